from django.apps import AppConfig


class InvoicingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "invoicing"

    def ready(self) -> None:
        # Invoicing owns whether an entry is invoiced and whether a milestone is billed;
        # timesheets and agreements read them through core.
        from core import entry_billing, milestone_billing
        from invoicing.selectors import entry_billing_q, milestone_billed_q, unbilled_time_value

        entry_billing.provide(entry_billing_q, unbilled_time_value)
        milestone_billing.provide(milestone_billed_q)
