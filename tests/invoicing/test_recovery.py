"""Runs whose task message was lost are sent again by the requeue sweep (invoicing/recovery.py)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from invoicing.models import InvoiceRun
from invoicing.tasks import requeue_stale_runs_task
from tests.factories import AgreementFactory, TimeEntryFactory
from tests.worker import wait_for
from timesheets.models import ReconciliationRun


def _lost_runs():
    """Runs recorded as queued whose message never reached a worker, 11 minutes ago, and a fresh one."""
    agreement = AgreementFactory(project_code="PRJ-LOST", start_date=dt.date(2026, 1, 1))
    TimeEntryFactory(project_code="PRJ-LOST", date=dt.date(2026, 1, 15), duration_ms=2 * 3_600_000)
    old = timezone.now() - dt.timedelta(minutes=11)
    lost = InvoiceRun.objects.create(period=dt.date(2026, 1, 1))
    fresh = InvoiceRun.objects.create(period=dt.date(2026, 2, 1))
    lost_recon = ReconciliationRun.objects.create(as_of=dt.date(2026, 2, 1))
    InvoiceRun.objects.filter(pk=lost.pk).update(created_at=old)
    ReconciliationRun.objects.filter(pk=lost_recon.pk).update(created_at=old)
    return agreement, lost, fresh, lost_recon


@pytest.mark.django_db
def test_command_resends_only_stale_runs_and_they_complete():
    agreement, lost, fresh, lost_recon = _lost_runs()
    out = io.StringIO()
    call_command("requeue_stale_runs", stdout=out)  # tasks run in-process here (no broker)
    assert out.getvalue().strip() == (
        f"Re-sent 1 invoice run(s) [{lost.pk}], 1 reconciliation run(s) [{lost_recon.pk}] "
        "and 0 approval job(s) []."
    )
    lost.refresh_from_db()
    fresh.refresh_from_db()
    lost_recon.refresh_from_db()
    assert lost.status == "done"
    assert lost.invoices_created == 1
    assert agreement.account.invoices.get().total == agreement.hourly_rate * 2
    assert fresh.status == "queued"  # not stale yet: its message may still be on its way
    assert lost_recon.status == "done"


@pytest.mark.worker
def test_beat_sweep_on_a_real_worker_completes_a_lost_run(celery_worker):
    _, lost, fresh, _ = _lost_runs()
    requeue_stale_runs_task.delay()
    wait_for(lambda: InvoiceRun.objects.get(pk=lost.pk).status == "done", timeout=90)
    assert InvoiceRun.objects.get(pk=lost.pk).invoices_created == 1
    assert InvoiceRun.objects.get(pk=fresh.pk).status == "queued"
