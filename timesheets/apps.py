from django.apps import AppConfig


class TimesheetsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "timesheets"

    def ready(self) -> None:
        from core.imports import register_undo
        from timesheets.import_history import time_entry_import_undo

        register_undo("time_entries", "entries.import", time_entry_import_undo)
