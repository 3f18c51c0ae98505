"""Celery tasks: thin wrappers over timesheets.services (twin command: `reconcile`). The task
imports its service inside its body; the service imports the task it enqueues (on commit)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import InterfaceError, OperationalError

from core.dates import firm_today


@shared_task(
    acks_late=True,  # idempotent: a redelivered run re-applies the same flags
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=5,
)
def reconcile_task(run_id: int | None = None, as_of: str | None = None) -> int | None:
    """Reconcile (beat: reconcile-nightly, without arguments = as of the firm's today, history
    user None), or carry out a run queued by reconciliation_start. Returns the run id."""
    from timesheets.models import ReconciliationRun
    from timesheets.services import reconciliation_run

    if run_id is not None:
        run = ReconciliationRun.objects.select_related("started_by").filter(pk=run_id).first()
        if run is None:  # deleted meanwhile: nothing to do
            return None
        return reconciliation_run(as_of=run.as_of, user=run.started_by, run=run).pk
    day = dt.date.fromisoformat(as_of) if as_of else firm_today()
    return reconciliation_run(as_of=day, user=None).pk


@shared_task(
    acks_late=True,  # idempotent: a redelivery recomputes the same values, or skips (see service)
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=5,
)
def unbilled_snapshots_task(last_days: list[str], requested_at: str) -> None:
    """Recompute the KPI tile's stored unbilled value for each period ending in `last_days` (ISO
    dates), one after the other in this one task, skipping each that a computation begun after
    `requested_at` (ISO time) already stored (a retry redoes only what was not stored)."""
    from timesheets.services import unbilled_snapshot_refresh

    asked = dt.datetime.fromisoformat(requested_at)
    for day in last_days:
        unbilled_snapshot_refresh(last_day=dt.date.fromisoformat(day), requested_at=asked)


@shared_task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), max_retries=5)
def unbilled_snapshot_task(last_day: str, requested_at: str) -> None:
    """One period end, as earlier releases enqueued it: kept so that such a task still queued at
    an upgrade runs. Nothing enqueues it now (see `unbilled_snapshots_task`)."""
    unbilled_snapshots_task([last_day], requested_at)
