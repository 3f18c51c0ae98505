"""Writes for reconciliation and flags (SPEC 2). Views, the command, the task and the API call these."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import KombuError
from simple_history.utils import bulk_update_with_history

from core import entry_billing, locks, runs
from core.dates import firm_today, period_bounds, previous_month
from core.errors import BillingError, require_reason
from timesheets import reconciliation
from timesheets.models import Flag, ReconciliationRun, UnbilledValueSnapshot
from timesheets.tasks import reconcile_task, unbilled_snapshots_task

logger = logging.getLogger(__name__)

ACTIONS = {"release": Flag.Status.RELEASED, "write_off": Flag.Status.WRITTEN_OFF}
ACTION_WORDS = {"release": "released", "write_off": "written off"}


# -- reconciliation ---------------------------------------------------------------------------


def reconciliation_run(
    *,
    as_of: dt.date,
    user: Any = None,
    run: ReconciliationRun | None = None,
    refresh_kpis: bool = True,
) -> ReconciliationRun:
    """Run reconciliation as of `as_of` now, in this process. Idempotent.

    `run` is the row to report progress on (created when None). A run already `done` is returned
    as it is, so a task delivered twice does the work once; so is a run another live worker
    holds (core.runs.run_claim). History rows carry `user` (None for the nightly job).
    `refresh_kpis=False`: the caller refreshes the KPI tile's stored value itself once its own
    writes are done (the invoice run's flag refresh: one refresh per run, not two)."""
    if run is None:
        run = ReconciliationRun.objects.create(
            as_of=as_of, started_by=user if _is_user(user) else None
        )
    if run.status == ReconciliationRun.Status.DONE:
        return run
    if not runs.run_claim(
        ReconciliationRun, run.pk, steps_done=0, steps_total=reconciliation.STEPS_TOTAL
    ):
        run.refresh_from_db()
        return run

    def progress(step: str, done: int, total: int) -> None:
        runs.run_beat(ReconciliationRun, run.pk, step=step, steps_done=done, steps_total=total)

    try:
        with runs.heartbeat(ReconciliationRun, run.pk):
            result = reconciliation.reconcile(
                as_of=as_of, user_id=user.pk if _is_user(user) else None, progress=progress
            )
    except Exception as exc:
        runs.run_fail(ReconciliationRun, run.pk, exc)
        raise
    runs.run_finish(
        ReconciliationRun,
        run.pk,
        step="Done",
        steps_done=reconciliation.STEPS_TOTAL,
        opened=result.opened,
        resolved=result.resolved,
        open_total=result.open_total,
    )
    if refresh_kpis:
        unbilled_snapshots_refresh_later()
    run.refresh_from_db()
    run.result = result  # type: ignore[attr-defined]  # open counts by code, for the command
    return run


def reconciliation_start(*, as_of: dt.date, user: Any) -> ReconciliationRun:
    """Queue a run for the worker ("run now" on the dashboard and the API).

    Reuses a queued or running (live worker) run for the same date instead of queueing a second
    one (core.runs.active_run)."""
    with transaction.atomic():
        locks.xact_lock(locks.RECONCILIATION_START)
        active = runs.active_run(ReconciliationRun.objects.filter(as_of=as_of))
        if active is not None:
            return active
        run = ReconciliationRun.objects.create(
            as_of=as_of,
            started_by=user if _is_user(user) else None,
            steps_total=reconciliation.STEPS_TOTAL,
            step="Queued",
        )
        run_id = run.pk
        transaction.on_commit(lambda: reconcile_task.delay(run_id=run_id))
    return run


# -- the KPI tile's stored unbilled value (issue 16) ------------------------------------------

# A refresh asked for on the page and no computation has answered within this long is asked
# again (its task was lost, e.g. no worker was running).
UNBILLED_REQUEST_STALE = dt.timedelta(minutes=15)


def unbilled_snapshot_refresh(
    *, last_day: dt.date, requested_at: dt.datetime | None = None
) -> UnbilledValueSnapshot:
    """Compute the unbilled value for the period ending `last_day` with invoicing's pricing
    (core.entry_billing.unbilled_value) and replace the stored one, in one transaction.

    Refreshes take one advisory lock, so two at once run one after the other: the later one
    computes after the earlier one stored its value, and never writes an older one over it. A
    refresh asked for at `requested_at` that a computation begun since has answered does
    nothing (a redelivered task, or several changes in a row, cost one computation)."""
    with transaction.atomic():
        locks.xact_lock(locks.UNBILLED_SNAPSHOT)
        row = UnbilledValueSnapshot.objects.filter(last_day=last_day).first()
        if row and row.as_of and requested_at and row.as_of >= requested_at:
            return row
        as_of = timezone.now()  # before the computation reads anything
        amounts = {c: str(a) for c, a in entry_billing.unbilled_value(last_day).items()}
        row, _ = UnbilledValueSnapshot.objects.update_or_create(
            last_day=last_day, defaults={"amounts": amounts, "as_of": as_of}
        )
    return row


def unbilled_snapshot_request(*, last_day: dt.date) -> bool:
    """Refresh on the dashboard asks for the period's value: enqueue a refresh unless one asked
    for is still pending. True when one was enqueued. Its `requested_at` also keeps the month
    among those the writes refresh for a while (`unbilled_refresh_days`)."""
    now = timezone.now()
    with transaction.atomic():
        row, created = UnbilledValueSnapshot.objects.select_for_update().get_or_create(
            last_day=last_day, defaults={"requested_at": now}
        )
        if not created:
            asked = row.requested_at
            if (
                asked
                and (row.as_of is None or asked > row.as_of)
                and now - asked < UNBILLED_REQUEST_STALE
            ):
                return False
            UnbilledValueSnapshot.objects.filter(pk=row.pk).update(requested_at=now)
        transaction.on_commit(lambda: _enqueue_refresh([last_day], now))
    return True


def _enqueue_refresh(last_days: list[dt.date], requested_at: dt.datetime) -> None:
    """Enqueue one task that refreshes `last_days` one after the other. Best effort: the stored
    value is derived data, so a broker that cannot take the task (down, restarting) must not
    fail the run, import or page that asked for it. Logged; the next write, the nightly
    reconciliation or a Refresh after UNBILLED_REQUEST_STALE asks again."""
    days = [day.isoformat() for day in last_days]
    try:
        unbilled_snapshots_task.delay(days, requested_at.isoformat())
    except (KombuError, OSError) as exc:
        logger.warning("unbilled value refresh for %s not enqueued: %s", ", ".join(days), exc)


def unbilled_default_day() -> dt.date:
    """The last day of the dashboard's default month (the last closed one)."""
    return period_bounds(previous_month(firm_today()))[1]


# A month a person asked for with Refresh this recently is refreshed by the writes too.
UNBILLED_ASKED_RECENTLY = dt.timedelta(days=7)


def unbilled_refresh_days() -> list[dt.date]:
    """The period ends whose stored value the writes (the nightly reconciliation among them)
    refresh: the dashboard's default month (the last closed one), and each month a person asked
    for with Refresh within UNBILLED_ASKED_RECENTLY.

    Why: each one is a full pricing of the unbilled time, so only months someone looks at are
    kept current. The default month is what every visit shows; any other month is shown only
    because a person picked it, and one who asked for its value is likely to come back to it
    while working on it (a close or a review takes days, not weeks). Every other stored month
    keeps its value with its "as of" time and its Refresh button: its age is shown, and it is
    one click from current. (Before: every stored month of the last 400 days and the current
    month, each in its own task, after every write and every night.)"""
    default = unbilled_default_day()
    since = timezone.now() - UNBILLED_ASKED_RECENTLY
    asked = UnbilledValueSnapshot.objects.filter(requested_at__gte=since)
    return sorted({default, *asked.values_list("last_day", flat=True)})


def unbilled_snapshots_refresh_later() -> None:
    """After the current transaction commits, enqueue one task that refreshes the stored
    unbilled values of `unbilled_refresh_days` (a call from each write that changes what a run
    would bill: reconciliation, time-entry import and undo, invoice run, rejection, flag
    actions). Off with settings.BILLING_KPI_REFRESH_AFTER_WRITES (the bench)."""
    if settings.BILLING_KPI_REFRESH_AFTER_WRITES:
        transaction.on_commit(_enqueue_unbilled_refreshes)


def _enqueue_unbilled_refreshes() -> None:
    _enqueue_refresh(unbilled_refresh_days(), timezone.now())


# -- flag actions -----------------------------------------------------------------------------


def flag_release(*, flag: Flag, user: Any, reason: str) -> Flag:
    """Customer authorized the hours, or not a duplicate: the entry is billed (OVER_CAP and
    DUPLICATE_ENTRY only)."""
    return _flag_act(flag=flag, user=user, reason=reason, action="release")


def flag_write_off(*, flag: Flag, user: Any, reason: str) -> Flag:
    """The entry is never billed (any entry flag)."""
    return _flag_act(flag=flag, user=user, reason=reason, action="write_off")


def flags_bulk_action(
    *, flag_ids: Iterable[int], action: str, user: Any, reason: str
) -> list[Flag]:
    """Release or write off several flags with one reason: all of them, or none (the error
    names every flag that cannot take the action)."""
    if action not in ACTIONS:
        raise BillingError(f"Unknown action {action!r}: use release or write_off")
    reason = _clean_reason(reason)
    ids = sorted({int(i) for i in flag_ids})
    if not ids:
        raise BillingError("Select at least one flag")
    now = timezone.now()
    with transaction.atomic():
        reconciliation.advisory_lock(shared=True)
        flags = list(Flag.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        problems = [f"flag {i} does not exist" for i in sorted(set(ids) - {f.pk for f in flags})]
        for flag in flags:
            refusal = _refusal(flag, action)
            if refusal:
                problems.append(f"{flag.code} {flag.subject}: {refusal}")
        if problems:
            shown = "; ".join(problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise BillingError(
                f"Nothing was {ACTION_WORDS[action]}: {len(problems)} of {len(ids)} selected "
                f"flags cannot be: {shown}{more}"
            )
        for flag in flags:
            _apply_action(flag, action=action, user=user, reason=reason, now=now)
        bulk_update_with_history(
            flags,
            Flag,
            ["status", "actioned_by", "actioned_at", "reason"],
            default_user=user if _is_user(user) else None,
            default_change_reason=_change_reason(action, reason),
            default_date=now,
        )
        unbilled_snapshots_refresh_later()
    return flags


def _flag_act(*, flag: Flag, user: Any, reason: str, action: str) -> Flag:
    reason = _clean_reason(reason)
    with transaction.atomic():
        # Shared advisory lock: never interleave with a reconciliation applying its flags.
        reconciliation.advisory_lock(shared=True)
        locked = Flag.objects.select_for_update().get(pk=flag.pk)
        refusal = _refusal(locked, action)
        if refusal:
            raise BillingError(refusal)
        _apply_action(locked, action=action, user=user, reason=reason, now=timezone.now())
        locked._history_user = user if _is_user(user) else None  # type: ignore[attr-defined]
        locked._change_reason = _change_reason(action, reason)  # type: ignore[attr-defined]
        locked.save(update_fields=["status", "actioned_by", "actioned_at", "reason"])
        unbilled_snapshots_refresh_later()
    return locked


def _refusal(flag: Flag, action: str) -> str:
    """Why `action` is not allowed on `flag` ('' when it is)."""
    if flag.status == Flag.Status.WRITTEN_OFF:
        return "Flag is already written off"
    if flag.status == Flag.Status.RELEASED:
        return "Flag is already released"
    if flag.status == Flag.Status.RESOLVED:
        return "Flag is resolved (its cause is gone); there is nothing to " + (
            "release" if action == "release" else "write off"
        )
    if action == "release" and flag.code not in Flag.RELEASABLE_CODES:
        return "Only OVER_CAP and DUPLICATE_ENTRY flags can be released"
    if action == "write_off" and flag.code not in Flag.ENTRY_CODES:
        return (
            f"Only entry flags can be written off; a {flag.code} flag closes by itself "
            "once its cause is gone"
        )
    return ""


def _apply_action(flag: Flag, *, action: str, user: Any, reason: str, now: dt.datetime) -> None:
    flag.status = ACTIONS[action]
    flag.actioned_by = user if _is_user(user) else None
    flag.actioned_at = now
    flag.reason = reason


def _clean_reason(reason: str | None) -> str:
    return require_reason(reason)


def _change_reason(action: str, reason: str) -> str:
    return f"{ACTION_WORDS[action].capitalize()}: {reason}"[:100]


def _is_user(user: Any) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and user.pk is not None
