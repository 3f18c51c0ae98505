"""Approval jobs share the run lifecycle (core/runs.py, issue 13): claimed by one worker, resumed
by the dead-run sweep when their worker died, and however often a job is delivered, resumed or
started again, no invoice is numbered twice and the numbers stay gapless.

The in-process tests die the way a killed worker does: the batch's transaction is rolled back and
the job is left `running` with a heartbeat that stops. test_killed_worker_approval_job SIGKILLs a
real worker mid-job."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from django.utils import timezone

from core import runs
from invoicing.models import ApprovalJob, Invoice, NumberSequence
from invoicing.recovery import dead_runs_reclaim, stale_runs_requeue
from invoicing.services import approval_batch, invoice_run_generate
from tests.world import PERIOD, many_groups

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_render(monkeypatch, settings, tmp_path):
    """The final PDFs are another task (tests/invoicing/test_approval_batch.py renders them)."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    monkeypatch.setattr(
        "invoicing.services.approval_batch.render_invoice_pdf_task.delay", lambda pk: None
    )


def drafts(groups: int) -> dict[int, int]:
    many_groups(groups=groups, entries_per_group=2)
    invoice_run_generate(period=PERIOD)
    versions = dict(Invoice.objects.filter(status="draft").values_list("pk", "version"))
    assert len(versions) >= groups
    return versions


def numbered_once() -> list[str]:
    """Problems with the numbers: an invoice numbered twice (its history holds two numbers), a
    number on two invoices, a gap, or the sequence row out of step."""
    problems = []
    numbers = list(Invoice.objects.exclude(number=None).values_list("number_seq", flat=True))
    if sorted(numbers) != list(range(1, len(numbers) + 1)):
        problems.append(f"numbers not 1..{len(numbers)}: {sorted(numbers)}")
    per_invoice = Counter(
        pk for pk, _ in Invoice.history.exclude(number=None).values_list("id", "number").distinct()
    )
    problems += [f"invoice {pk} had {n} numbers" for pk, n in per_invoice.items() if n > 1]
    last = NumberSequence.objects.filter(series="INV").values_list("last", flat=True).first() or 0
    if last != len(numbers):
        problems.append(f"sequence says {last}, {len(numbers)} numbered")
    return problems


def dies_on_batch(monkeypatch, n: int):
    """The `n`-th batch dies inside its transaction (rolled back, as when the worker is killed).
    Returns the real batch body."""
    real = approval_batch._approve_drafts
    calls = {"n": 0}

    def approve(*args, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            raise RuntimeError("killed")
        return real(*args, **kw)

    monkeypatch.setattr(approval_batch, "_approve_drafts", approve)
    return real


def left_by_a_dead_worker(job: ApprovalJob) -> None:
    old = timezone.now() - runs.stale_after() - dt.timedelta(seconds=5)
    ApprovalJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=old, error="")


def test_job_of_a_dead_worker_is_resumed_by_the_sweep(no_render, monkeypatch, billing_admin):
    versions = drafts(5)
    monkeypatch.setattr(approval_batch, "BATCH", 2)
    job = approval_batch.approval_job_start(period=PERIOD, user=billing_admin, versions=versions)
    real = dies_on_batch(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        approval_batch.approval_job_run(job.pk)
    job.refresh_from_db()
    # The first batch is committed with its counts; the second rolled back whole.
    assert (job.approved, job.refused) == (2, 0)
    assert Invoice.objects.filter(status="approved").count() == 2
    left_by_a_dead_worker(job)
    alive = approval_batch.approval_job_start(period=PERIOD, user=billing_admin, versions={1: 1})
    ApprovalJob.objects.filter(pk=alive.pk).update(status="running", heartbeat_at=timezone.now())

    monkeypatch.setattr(approval_batch, "_approve_drafts", real)
    sent = dead_runs_reclaim()  # tasks run in-process here (no broker)
    assert sent["approval_jobs"] == [job.pk]  # not the one whose worker is alive
    job.refresh_from_db()
    assert (job.status, job.approved, job.refused, job.refusals) == ("done", len(versions), 0, [])
    assert Invoice.objects.filter(status="approved").count() == len(versions)
    assert not Invoice.objects.filter(pk__in=versions, status="draft").exists()
    assert numbered_once() == []
    assert ApprovalJob.objects.get(pk=alive.pk).status == "running"


def test_approving_twice_never_numbers_twice(no_render, billing_admin, second_billing_admin):
    versions = drafts(4)
    job = approval_batch.approval_job_start(period=PERIOD, user=billing_admin, versions=versions)
    approval_batch.approval_job_run(job.pk)
    numbers = dict(Invoice.objects.filter(pk__in=versions).values_list("pk", "number"))
    assert None not in numbers.values()

    # A second delivery of the finished job: nothing happens.
    assert approval_batch.approval_job_run(job.pk).approved == len(versions)
    # Left running by a dead worker after its last batch committed: resumed, nothing to do.
    left_by_a_dead_worker(job)
    again = approval_batch.approval_job_run(job.pk)
    assert (again.status, again.approved, again.refused) == ("done", len(versions), 0)
    # Held by a live worker: refused (the task looks again once that heartbeat is stale).
    ApprovalJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    with pytest.raises(runs.RunBusy):
        approval_batch.approval_job_run(job.pk)
    # The same drafts approved again in a new job, by another admin: every one refused.
    other = approval_batch.approval_job_start(
        period=PERIOD, user=second_billing_admin, versions=versions
    )
    other = approval_batch.approval_job_run(other.pk)
    assert (other.approved, other.refused) == (0, len(versions))
    assert {why for _, why in other.refusals} == {"It is no longer a draft."}
    assert dict(Invoice.objects.filter(pk__in=versions).values_list("pk", "number")) == numbers
    assert numbered_once() == []


def test_lost_approval_message_is_sent_again(no_render, billing_admin):
    versions = drafts(2)
    job = approval_batch.approval_job_start(period=PERIOD, user=billing_admin, versions=versions)
    # Its message never reached a worker (no commit here, so the on-commit send never ran).
    ApprovalJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=11)
    )
    assert stale_runs_requeue()["approval_jobs"] == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.approved) == ("done", len(versions))
    assert numbered_once() == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_killed_worker_approval_job(trial_log, settings, tmp_path):
    """SIGKILL a real worker while it approves a period in batches, start another: the broker's
    redelivery or the dead-run sweep resumes the job, which ends with every draft approved once
    and the numbers gapless."""
    from core import roles
    from tests.factories import UserFactory
    from tests.reliability.workers import VISIBILITY_TIMEOUT, private_worker
    from tests.worker import wait_for

    settings.MEDIA_ROOT = tmp_path
    user = UserFactory(username="kill.admin", roles=[roles.BILLING_ADMIN])
    many_groups(groups=2 * approval_batch.BATCH + 10, entries_per_group=1)
    invoice_run_generate(period=PERIOD)
    versions = dict(Invoice.objects.filter(status="draft").values_list("pk", "version"))
    assert len(versions) > 2 * approval_batch.BATCH  # three batches

    def state() -> tuple[str, int]:
        return ApprovalJob.objects.values_list("status", "approved").get(pk=job.pk)

    with private_worker() as worker:
        worker.prepare()
        job = approval_batch.approval_job_start(period=PERIOD, user=user, versions=versions)
        trial_log.trial()
        # Killed once the first batch is committed: in the second batch's transaction.
        wait_for(lambda: state()[1] > 0, timeout=120, interval=0.005)
        worker.kill()
        killed_at = time.monotonic()
        at_kill = state()
        trial_log.check(
            at_kill == ("running", approval_batch.BATCH), f"the kill missed the job: {at_kill}"
        )
        time.sleep(VISIBILITY_TIMEOUT + 0.2)
        worker.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and state()[0] != "done":
            dead_runs_reclaim()  # what the beat does every 30 s; a live job is left alone
            time.sleep(1)
        final = ApprovalJob.objects.get(pk=job.pk)
        trial_log.notes.update(
            approved_at_kill=at_kill[1],
            drafts=len(versions),
            done_after_kill_s=round(time.monotonic() - killed_at, 1),
        )
        trial_log.check(final.status == "done", f"job {final.status} after restart")
        trial_log.check(
            (final.approved, final.refused) == (len(versions), 0),
            f"approved {final.approved}, refused {final.refused} of {len(versions)}",
        )
        problems = numbered_once()
        trial_log.check(not problems, f"numbers: {problems[:3]}")
    trial_log.assert_clean()
