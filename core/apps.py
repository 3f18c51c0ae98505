from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Billable core"

    def ready(self) -> None:
        # Wiring, not business logic: keep the role groups' admin permissions in step with the
        # models after every migrate. post_migrate is sent once per app, in INSTALLED_APPS order,
        # and each app's permissions are created by its own post_migrate; so sync on the last one,
        # when every app's permissions exist (also on the very first migrate of a fresh database).
        post_migrate.connect(_sync_after_last_app, dispatch_uid="billable-role-permissions")
        # API tokens end when their user's password changes (the receiver lives there).
        import core.tokens  # noqa: F401

        self._connect_preview_expiry()

    @staticmethod
    def _connect_preview_expiry() -> None:
        # Upload previews never confirmed are deleted when their user logs out (core.previews).
        from django.contrib.auth.signals import user_logged_out

        from core.previews import on_logout

        user_logged_out.connect(on_logout, dispatch_uid="billable-forget-previews")


def _sync_after_last_app(app_config: AppConfig, **kwargs: Any) -> None:
    # post_migrate is only sent for apps with a models module (the demo app has none).
    with_models = [c for c in apps.get_app_configs() if c.models_module is not None]
    if app_config.label != with_models[-1].label:
        return
    from core.permissions_sync import sync_group_permissions

    sync_group_permissions(**kwargs)
