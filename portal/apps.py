from django.apps import AppConfig


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from invoicing import mail
        from portal.mailing import invoice_mail_values

        if invoice_mail_values not in mail.INVOICE_VALUE_PROVIDERS:
            mail.INVOICE_VALUE_PROVIDERS.append(invoice_mail_values)
