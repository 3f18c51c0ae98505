"""The shared run lifecycle (core/runs.py) on both run kinds: "run now" dedupe, claim, heartbeat
staleness and the reclaim sweep (issue 13 run base, issue 17 item 6)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from core import runs
from invoicing.models import InvoiceRun
from invoicing.recovery import dead_runs_reclaim
from invoicing.services import invoice_run_generate, invoice_run_start
from tests.api.conftest import token_client
from tests.reliability.billing_data import (
    PERIOD,
    build_firm,
    half_built,
    invoice_state,
    reset_invoicing,
)
from timesheets.models import ReconciliationRun
from timesheets.services import reconciliation_start

pytestmark = pytest.mark.django_db


def test_invoice_run_now_twice_for_one_period_gives_one_run(billing_admin):
    # No commit happens in this test, so the first run stays queued, as behind a busy worker.
    first = invoice_run_start(period=PERIOD, user=billing_admin)
    second = invoice_run_start(period=PERIOD.replace(day=15), user=billing_admin)
    assert second.pk == first.pk
    assert InvoiceRun.objects.count() == 1
    other = invoice_run_start(period=dt.date(2026, 2, 1), user=billing_admin)
    assert other.pk != first.pk  # another period is another run


def test_invoice_run_now_twice_through_the_api_gives_one_run(billing_admin):
    client = token_client(billing_admin)
    a = client.post("/api/v1/invoice-runs/", {"period": "2026-01"}, format="json")
    b = client.post("/api/v1/invoice-runs/", {"period": "2026-01"}, format="json")
    assert a.status_code == b.status_code == 202
    assert a.json()["id"] == b.json()["id"]
    assert InvoiceRun.objects.count() == 1


def test_a_running_run_with_a_live_worker_is_reused_a_dead_one_is_not(billing_admin):
    run = InvoiceRun.objects.create(period=PERIOD)
    assert runs.run_claim(InvoiceRun, run.pk)
    assert invoice_run_start(period=PERIOD, user=billing_admin).pk == run.pk
    assert not runs.run_claim(InvoiceRun, run.pk)  # held by a live worker
    InvoiceRun.objects.filter(pk=run.pk).update(
        heartbeat_at=timezone.now() - runs.stale_after() - dt.timedelta(seconds=1)
    )
    assert invoice_run_start(period=PERIOD, user=billing_admin).pk != run.pk


def test_claim_refuses_a_run_a_live_worker_holds():
    run = InvoiceRun.objects.create(period=PERIOD)
    assert runs.run_claim(InvoiceRun, run.pk)
    with pytest.raises(runs.RunBusy):
        invoice_run_generate(period=PERIOD, run=run)


def test_sweep_resumes_only_runs_whose_heartbeat_is_stale(monkeypatch):
    from invoicing.services import runs as run_service

    monkeypatch.setattr(run_service, "_refresh_flags", lambda user: None)
    build_firm(groups=4, entries_per_group=2)
    invoice_run_generate(period=PERIOD)
    reference = invoice_state()
    reset_invoicing()
    # A run as a killed worker leaves it: one group written, status running, heartbeat stopped.
    real = run_service._generate_batch
    calls = {"n": 0}

    def dies_on_second_batch(**kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("killed")
        return real(**kw)

    monkeypatch.setattr(run_service, "BATCH_GROUPS", 1)  # one group per batch
    monkeypatch.setattr(run_service, "_generate_batch", dies_on_second_batch)
    with pytest.raises(RuntimeError):
        invoice_run_generate(period=PERIOD)
    monkeypatch.setattr(run_service, "_generate_batch", real)
    stale = InvoiceRun.objects.get()
    assert stale.groups_done == 1
    old = timezone.now() - dt.timedelta(minutes=2)
    InvoiceRun.objects.filter(pk=stale.pk).update(status="running", heartbeat_at=old, error="")
    alive = InvoiceRun.objects.create(period=dt.date(2026, 2, 1))
    InvoiceRun.objects.filter(pk=alive.pk).update(
        status="running", started_at=old, heartbeat_at=timezone.now()
    )
    sent = dead_runs_reclaim()  # tasks run in-process here (no broker)
    assert sent == {"invoice_runs": [stale.pk], "reconciliation_runs": [], "approval_jobs": []}
    stale.refresh_from_db()
    assert stale.status == "done"
    assert stale.groups_done == stale.groups_total > 0
    assert InvoiceRun.objects.get(pk=alive.pk).status == "running"
    assert invoice_state() == reference  # resumed: nothing billed twice, nothing missing
    assert not half_built()


def test_reconciliation_runs_share_the_lifecycle(services_manager):
    dead = ReconciliationRun.objects.create(as_of=dt.date(2026, 2, 1))
    old = timezone.now() - dt.timedelta(minutes=5)
    ReconciliationRun.objects.filter(pk=dead.pk).update(
        status="running", started_at=old, heartbeat_at=old
    )
    # A dead run is not reused by "run now"...
    fresh = reconciliation_start(as_of=dt.date(2026, 2, 1), user=services_manager)
    assert fresh.pk != dead.pk
    # ...and a second "run now" while the first is queued reuses it.
    assert reconciliation_start(as_of=dt.date(2026, 2, 1), user=services_manager).pk == fresh.pk
    assert dead_runs_reclaim()["reconciliation_runs"] == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == "done"
