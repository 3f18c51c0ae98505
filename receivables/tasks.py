"""Celery tasks: thin wrappers over services (each has a management-command twin)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from core.dates import firm_today
from core.errors import BillingError


@shared_task(
    acks_late=True,
    # mail server or database hiccups; the run is idempotent
    autoretry_for=(OSError, OperationalError, InterfaceError),
    retry_backoff=60,
    max_retries=5,
    dont_autoretry_for=(BillingError,),
)
def dunning_task(as_of: str | None = None) -> int:
    """Daily dunning (beat: dunning-daily). Returns the number of reminder mails sent."""
    import datetime as dt

    from receivables.dunning import dunning_run

    day = dt.date.fromisoformat(as_of) if as_of else firm_today()
    return sum(1 for r in dunning_run(as_of=day, user=None) if r.status == "sent")
