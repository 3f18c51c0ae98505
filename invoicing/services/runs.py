"""Invoice runs (SPEC 3): bring the flags up to date, snapshot what every group would bill, then
write the groups' drafts, one transaction per batch of groups.

Billing groups are written in batches of `BATCH_GROUPS`, one transaction per batch (invoices +
lines + claims, set-based: a fixed number of statements per batch), so a run that dies half-way
leaves whole groups only, and a re-run completes the rest. Group transactions take
one advisory lock so two runs, of the same period or of two periods, never claim the same entry
at once; the one-row-per-entry / milestone / block unique constraints are the last word: the
database refuses double billing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core import locks, runs
from core.dates import firm_today, period_bounds
from core.errors import BillingError
from invoicing import selectors
from invoicing.models import InvoiceRun
from invoicing.services.drafts import GroupOutcome, drafts_write
from invoicing.tasks import generate_invoices_task
from timesheets import services as timesheets_services

RUN_LOCK_KEY = locks.INVOICE_RUN  # core.locks holds every advisory-lock key
# Groups written per transaction: the run's query count is (groups / BATCH_GROUPS) x a constant;
# a run that dies half-way leaves whole batches of whole groups.
BATCH_GROUPS = 100


def _lock_runs() -> None:
    """Serialise invoice-run group transactions (advisory lock held to the end of the transaction)."""
    locks.xact_lock(locks.INVOICE_RUN)


def _refresh_flags(user) -> None:
    """SPEC 3: a run first brings the flags up to date. The KPI tile's stored value is refreshed
    once, at the end of the run (it then counts the run's drafts too), not here as well."""
    timesheets_services.reconciliation_run(as_of=firm_today(), user=user, refresh_kpis=False)


def _generate_batch(
    *, run_id: int, keys: list[selectors.GroupKey], snapshot: selectors.RunSnapshot, user
) -> GroupOutcome:
    """Write a batch of groups' drafts (invoices + lines + claims) in one transaction, in a
    fixed number of queries whatever the number of groups in it (issue 16)."""
    with transaction.atomic():
        _lock_runs()
        drafts = selectors.open_drafts(keys, snapshot.period, lock=True)
        inputs = selectors.batch_group_inputs(snapshot, keys, drafts)
        items = [(i, i.price()) for i in inputs.values() if i.has_news]
        outcome = drafts_write(
            items, run_id=run_id, user=user, billing_emails=snapshot.billing_emails
        )
        InvoiceRun.objects.filter(pk=run_id).update(
            groups_done=F("groups_done") + len(keys),
            invoices_created=F("invoices_created") + outcome.created,
            invoices_updated=F("invoices_updated") + outcome.updated,
            lines_written=F("lines_written") + outcome.lines,
            entries_billed=F("entries_billed") + outcome.entries,
            heartbeat_at=timezone.now(),  # a sign of life per batch (core/runs.py)
        )
        return outcome


def _generate_group(
    *, run_id: int, key: selectors.GroupKey, snapshot: selectors.RunSnapshot, user
) -> GroupOutcome:
    """One group in its own transaction (a batch of one)."""
    return _generate_batch(run_id=run_id, keys=[key], snapshot=snapshot, user=user)


def invoice_run_generate(
    *, period: dt.date, user=None, run: InvoiceRun | None = None
) -> InvoiceRun:
    """Run generation for the month containing `period`, synchronously. Idempotent: a re-run,
    or a run after one that died half-way, ends exactly as one clean run would.

    The flags are brought up to date first (SPEC 3); then one snapshot reads what every group
    would bill (a fixed number of queries), and each batch of `BATCH_GROUPS` groups is written
    in its own transaction, re-checking its slice under the run lock. `run` (recorded here when
    None) is claimed first (core.runs.run_claim); one that another live worker holds raises
    runs.RunBusy."""
    period = period.replace(day=1)
    if run is None:
        run = InvoiceRun.objects.create(period=period, started_by=user)
    if not runs.run_claim(InvoiceRun, run.pk, groups_done=0):
        raise runs.RunBusy(f"invoice run {run.pk} is done or held by a live worker")
    try:
        refuse_future_period(period)
    except BillingError as exc:
        runs.run_fail(InvoiceRun, run.pk, str(exc))
        raise
    try:
        with runs.heartbeat(InvoiceRun, run.pk):
            _refresh_flags(user)
            snapshot = selectors.run_snapshot(period)
            runs.run_beat(InvoiceRun, run.pk, groups_total=len(snapshot.groups))
            groups = snapshot.groups
            for start in range(0, len(groups), BATCH_GROUPS):
                batch = groups[start : start + BATCH_GROUPS]
                _generate_batch(run_id=run.pk, keys=batch, snapshot=snapshot, user=user)
    except Exception as exc:
        runs.run_fail(InvoiceRun, run.pk, exc)
        raise
    runs.run_finish(InvoiceRun, run.pk)
    timesheets_services.unbilled_snapshots_refresh_later()
    run.refresh_from_db()
    return run


def refuse_future_period(period: dt.date) -> None:
    """SPEC 3: a run for a month whose last day is after today (firm time zone) is refused, so
    nothing dated later than today is billed and no number of a future year is issued."""
    last_day = period_bounds(period)[1]
    today = firm_today()
    if last_day > today:
        raise BillingError(
            f"The period {period:%Y-%m} ends on {last_day:%Y-%m-%d}, after today "
            f"({today:%Y-%m-%d}): a month is invoiced once it is over."
        )


def invoice_run_start(*, period: dt.date, user) -> InvoiceRun:
    """Record a queued run and enqueue it once the row is committed ("run now": page and API).

    A second "run now" for the same period while one is queued or running (with a live worker)
    returns that run instead of queueing another (core.runs.active_run)."""
    period = period.replace(day=1)
    refuse_future_period(period)
    with transaction.atomic():
        locks.xact_lock(locks.INVOICE_RUN_START)
        active = runs.active_run(InvoiceRun.objects.filter(period=period))
        if active is not None:
            return active
        run = InvoiceRun.objects.create(period=period, started_by=user)
        run_id = run.pk
        transaction.on_commit(lambda: generate_invoices_task.delay(run_id))
    return run
