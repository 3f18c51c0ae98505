from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingSiteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing_site"
    verbose_name = "Billable"

    def ready(self) -> None:
        # Wiring, not business logic: keep the role groups' admin permissions in step with the
        # models after every migrate (permissions only exist once all apps have migrated).
        from billing_site.permissions_sync import sync_group_permissions

        post_migrate.connect(sync_group_permissions, sender=self)
