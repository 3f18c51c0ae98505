"""Flag release / write-off (one and bulk), reconciliation_start and the Celery task."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import BillingError
from tests.factories import AgreementFactory, FlagFactory, TimeEntryFactory
from tests.worker import wait_for
from timesheets.models import Flag, ReconciliationRun
from timesheets.services import (
    flag_release,
    flag_write_off,
    flags_bulk_action,
    reconciliation_run,
    reconciliation_start,
)

D = dt.date(2026, 3, 15)


def snapshot():
    return list(Flag.objects.order_by("pk").values_list("pk", "status", "reason", "actioned_by_id"))


@pytest.mark.django_db
def test_release_records_who_when_why_and_history(services_manager):
    flag = FlagFactory(code="OVER_CAP")
    done = flag_release(
        flag=flag, user=services_manager, reason="  Customer approved 10 more hours "
    )
    flag.refresh_from_db()
    assert flag.status == "released"
    assert flag.reason == "Customer approved 10 more hours"
    assert flag.actioned_by == services_manager
    assert flag.actioned_at is not None
    last = flag.history.first()
    assert (last.status, last.history_user_id) == ("released", services_manager.pk)
    assert last.history_change_reason == "Released: Customer approved 10 more hours"
    assert done.pk == flag.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "status", "action", "message"),
    [
        (
            "NO_AGREEMENT",
            "open",
            "release",
            "Only OVER_CAP and DUPLICATE_ENTRY flags can be released",
        ),
        (
            "UNAPPROVED_TIME",
            "open",
            "release",
            "Only OVER_CAP and DUPLICATE_ENTRY flags can be released",
        ),
        ("OVER_CAP", "written_off", "release", "Flag is already written off"),
        ("OVER_CAP", "released", "write_off", "Flag is already released"),
        ("NO_AGREEMENT", "written_off", "write_off", "Flag is already written off"),
        (
            "NO_AGREEMENT",
            "resolved",
            "write_off",
            "Flag is resolved (its cause is gone); there is nothing to write off",
        ),
        (
            "EXCESSIVE_DAILY_HOURS",
            "open",
            "write_off",
            "Only entry flags can be written off; a EXCESSIVE_DAILY_HOURS flag closes by itself once its cause is gone",
        ),
        (
            "NOT_STARTED",
            "open",
            "write_off",
            "Only entry flags can be written off; a NOT_STARTED flag closes by itself once its cause is gone",
        ),
    ],
)
def test_refused_actions_change_nothing(services_manager, code, status, action, message):
    extra = {"reason": "earlier"} if status in ("released", "written_off") else {}
    flag = FlagFactory(code=code, status=status, **extra)
    before = snapshot()
    history = Flag.history.count()
    service = flag_release if action == "release" else flag_write_off
    with pytest.raises(BillingError) as exc:
        service(flag=flag, user=services_manager, reason="why")
    assert str(exc.value) == message
    assert snapshot() == before
    assert Flag.history.count() == history


@pytest.mark.django_db
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reason_is_required(services_manager, reason):
    flag = FlagFactory(code="OVER_CAP")
    before = snapshot()
    with pytest.raises(BillingError, match="A reason is required"):
        flag_write_off(flag=flag, user=services_manager, reason=reason)
    assert snapshot() == before


@pytest.mark.django_db
def test_write_off_allowed_for_every_entry_code(services_manager):
    for code in sorted(Flag.ENTRY_CODES):
        flag = FlagFactory(code=code)
        flag_write_off(flag=flag, user=services_manager, reason="not billable")
        flag.refresh_from_db()
        assert flag.status == "written_off", code


@pytest.mark.django_db
def test_bulk_write_off_all_or_nothing(services_manager):
    a = FlagFactory(code="NO_AGREEMENT")
    b = FlagFactory(code="OVER_CAP")
    c = FlagFactory(code="NOT_STARTED", entry=None, subject="AGR-9", project_code="P9")
    before = snapshot()
    with pytest.raises(BillingError) as exc:
        flags_bulk_action(
            flag_ids=[a.pk, b.pk, c.pk, 999999],
            action="write_off",
            user=services_manager,
            reason="cleanup",
        )
    assert str(exc.value) == (
        "Nothing was written off: 2 of 4 selected flags cannot be: flag 999999 does not exist; "
        "NOT_STARTED AGR-9: Only entry flags can be written off; a NOT_STARTED flag closes by "
        "itself once its cause is gone"
    )
    assert snapshot() == before
    done = flags_bulk_action(
        flag_ids=[a.pk, b.pk], action="write_off", user=services_manager, reason="cleanup"
    )
    assert [f.pk for f in done] == sorted([a.pk, b.pk])
    assert set(Flag.objects.filter(status="written_off").values_list("pk", flat=True)) == {
        a.pk,
        b.pk,
    }
    for flag in (a, b):
        last = flag.history.first()
        assert (last.status, last.history_user_id, last.history_change_reason) == (
            "written_off",
            services_manager.pk,
            "Written off: cleanup",
        )


@pytest.mark.django_db
def test_bulk_release_and_bad_input(services_manager):
    a = FlagFactory(code="DUPLICATE_ENTRY")
    b = FlagFactory(code="OVER_CAP")
    with pytest.raises(BillingError, match="Unknown action"):
        flags_bulk_action(flag_ids=[a.pk], action="delete", user=services_manager, reason="x")
    with pytest.raises(BillingError, match="Select at least one flag"):
        flags_bulk_action(flag_ids=[], action="release", user=services_manager, reason="x")
    with pytest.raises(BillingError, match="A reason is required"):
        flags_bulk_action(flag_ids=[a.pk], action="release", user=services_manager, reason=" ")
    flags_bulk_action(
        flag_ids=[a.pk, b.pk], action="release", user=services_manager, reason="authorized"
    )
    assert set(Flag.objects.values_list("status", flat=True)) == {"released"}


@pytest.mark.django_db
def test_a_done_run_is_not_run_again():
    TimeEntryFactory(external_id="1", project_code="NOPE")
    run = reconciliation_run(as_of=D)
    Flag.objects.all().delete()
    again = reconciliation_run(as_of=D, run=run)
    assert again.pk == run.pk
    assert Flag.objects.count() == 0


@pytest.mark.django_db
def test_failed_run_is_recorded(monkeypatch):
    from timesheets import reconciliation

    def boom(cur, q):
        raise RuntimeError("disk full")

    monkeypatch.setattr(
        reconciliation, "STEPS", (("Preparing", reconciliation._step_setup), ("Boom", boom))
    )
    with pytest.raises(RuntimeError):
        reconciliation_run(as_of=D)
    run = ReconciliationRun.objects.get()
    assert run.status == "failed"
    assert run.error == "RuntimeError: disk full"
    assert run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_start_runs_in_process_without_broker_and_reuses_active_run(services_manager):
    TimeEntryFactory(external_id="1", project_code="NOPE")
    run = reconciliation_start(as_of=D, user=services_manager)
    run.refresh_from_db()
    assert run.status == "done"  # eager: ran on commit
    assert run.started_by == services_manager
    assert Flag.objects.get().history.first().history_user_id == services_manager.pk
    queued = ReconciliationRun.objects.create(as_of=D, status="queued")
    assert reconciliation_start(as_of=D, user=services_manager).pk == queued.pk


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_reconcile_task_runs_on_a_real_worker(celery_worker, services_manager):
    """Enqueued to Redis, run by a separate `celery worker` process, flags visible in PostgreSQL."""
    from timesheets.tasks import reconcile_task

    TimeEntryFactory(external_id="1", project_code="NOPE", date=dt.date(2026, 3, 2))
    AgreementFactory(external_id="AGR-OLD", project_code="OLD", start_date=dt.date(2026, 1, 1))
    run = ReconciliationRun.objects.create(as_of=D, started_by=services_manager)
    reconcile_task.delay(run_id=run.pk)

    def finished():
        run.refresh_from_db()
        return run.status in ("done", "failed")

    wait_for(finished, timeout=60)
    assert run.status == "done", run.error
    assert set(Flag.objects.filter(status="open").values_list("code", "subject")) == {
        ("NO_AGREEMENT", "1"),
        ("NOT_STARTED", "AGR-OLD"),
    }
    assert run.open_total == 2 and run.steps_done == run.steps_total
    # The beat entry: no arguments, as of the firm's today, no history user.
    reconcile_task.delay()
    wait_for(lambda: ReconciliationRun.objects.filter(started_by=None, status="done").exists())
    assert Flag.history.filter(history_user=None).count() == 0  # nothing changed, nothing written
