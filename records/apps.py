from django.apps import AppConfig


class RecordsConfig(AppConfig):
    """The record screens (issue 15): customers, agreement detail, the time-entry browser and the
    history view. Reads across every app, so it sits downstream of all of them; the writes it
    offers (marking a milestone complete) are the owning app's services."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "records"
