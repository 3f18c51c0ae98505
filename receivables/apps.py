from django.apps import AppConfig


class ReceivablesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "receivables"

    def ready(self) -> None:
        # Receivables owns the open amount; upstream apps read it through core.settlement.
        from core import settlement as seam
        from core.imports import register_undo
        from receivables.aging_page import cached_open_totals
        from receivables.import_history import payment_import_undo
        from receivables.settlement import annotate_open_amount

        seam.provide(annotate_open_amount, cached_open_totals)
        register_undo("payments", "payments.manage", payment_import_undo)
