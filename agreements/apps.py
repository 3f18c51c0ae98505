from django.apps import AppConfig


class AgreementsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agreements"

    def ready(self) -> None:
        from agreements.import_history import agreement_import_undo
        from core.imports import register_undo

        register_undo("agreements", "agreements.import", agreement_import_undo)
