"""Site-wide Celery tasks (twin command: `requeue_stale_runs`)."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from billing_site.recovery import stale_runs_requeue


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=3)
def requeue_stale_runs_task() -> dict[str, list[int]]:
    return stale_runs_requeue()
