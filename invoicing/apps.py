from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "invoicing"

    def ready(self) -> None:
        # Invoicing owns whether an entry is invoiced; timesheets reads it through core.
        from core import entry_billing
        from invoicing.selectors import entry_billing_q

        entry_billing.provide(entry_billing_q)
