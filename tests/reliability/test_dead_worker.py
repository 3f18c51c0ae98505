"""A worker killed as a whole mid-run, with PRODUCTION timeouts (issue 17 item 6).

The worker's whole process group is SIGKILLed while an invoice run is writing its groups; the
broker keeps the visibility timeout production uses (3,600 s), and the worker the production
heartbeat (RUN_HEARTBEAT_SECONDS=15, RUN_STALE_SECONDS=60). A replacement worker is started at
once (as a supervisor would); the broker will not redeliver the unacknowledged message for an
hour, so only the run's heartbeat can bring it back: the reclaim sweep (beat every 30 s, called
here on the same 30 s timer) re-queues the run once its heartbeat is stale and sends its task
again. Measured: seconds from the kill to the run being DONE; it must be under 120 s, and the
result must be identical to a clean run (nothing billed twice).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from django.db import connection

from invoicing.models import EntryBilling, InvoiceRun
from invoicing.recovery import dead_runs_reclaim
from invoicing.services import invoice_run_start
from tests.reliability.billing_data import (
    PERIOD,
    build_firm,
    half_built,
    invoice_state,
    reset_invoicing,
)
from tests.reliability.workers import private_worker
from tests.worker import wait_for

pytestmark = [pytest.mark.worker]

PRODUCTION_VISIBILITY_TIMEOUT = 3600
SWEEP_EVERY = 30.0  # seconds, as the reclaim-dead-runs beat entry


@contextmanager
def invoices_held() -> Iterator[None]:
    """Hold back every write to the invoice table from a connection of its own, so the worker is
    stopped inside its batch transaction, whatever the machine's speed, until this ends."""
    params = connection.settings_dict
    other = psycopg2.connect(
        dbname=params["NAME"],
        user=params["USER"],
        host=params["HOST"],
        port=params["PORT"] or 5432,
        password=params["PASSWORD"] or None,
    )
    try:
        with other.cursor() as cur:
            cur.execute("LOCK TABLE invoicing_invoice IN SHARE ROW EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()


def worker_waits_on_invoices() -> bool:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = 'invoicing_invoice' AND NOT l.granted"
        )
        return cur.fetchone()[0] > 0


def progress(run_id: int) -> tuple[str, int, int]:
    return InvoiceRun.objects.values_list("status", "groups_done", "groups_total").get(pk=run_id)


@pytest.mark.django_db(transaction=True)
def test_run_of_a_killed_worker_resumes_within_two_minutes(trial_log, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    build_firm(groups=60, entries_per_group=6)
    production = {"RUN_STALE_SECONDS": "60", "RUN_HEARTBEAT_SECONDS": "15"}
    with private_worker(
        visibility_timeout=PRODUCTION_VISIBILITY_TIMEOUT, extra_env=production
    ) as worker:
        reference_run = invoice_run_start(period=PERIOD, user=None)
        wait_for(lambda: progress(reference_run.pk)[0] == "done", timeout=180, interval=0.05)
        reference = invoice_state()
        assert reference["invoices"], "the reference run billed nothing"

        reset_invoicing()
        trial_log.trial()
        worker.prepare()  # the replacement, warmed while this one works
        # Killed once the worker has claimed the run and is writing its batch of groups (one
        # transaction: PostgreSQL rolls it back). The run is fast, so a sleep before the kill
        # can miss it: the invoice table is held until the worker waits inside its batch.
        with invoices_held():
            run = invoice_run_start(period=PERIOD, user=None)
            wait_for(worker_waits_on_invoices, timeout=120, interval=0.01)
            worker.kill()  # SIGKILL to the worker's whole process group
            killed_at = time.monotonic()
        status, done, total = progress(run.pk)
        assert status == "running" and (done < total or total == 0), (
            f"the kill missed the run: {progress(run.pk)}"
        )
        trial_log.check(not half_built(), f"half-built after the kill: {half_built()[:3]}")
        worker.start()  # a new worker process, as a supervisor restarts it

        reclaimed_at = None
        next_sweep = killed_at + SWEEP_EVERY
        while time.monotonic() - killed_at < 180 and progress(run.pk)[0] != "done":
            if time.monotonic() >= next_sweep:
                if dead_runs_reclaim()["invoice_runs"] and reclaimed_at is None:
                    reclaimed_at = time.monotonic() - killed_at
                next_sweep += SWEEP_EVERY
            time.sleep(0.2)
        recovery = time.monotonic() - killed_at
        final = InvoiceRun.objects.get(pk=run.pk)
        trial_log.notes.update(
            killed_at_groups=f"{done}/{total}",
            reclaimed_after_seconds=round(reclaimed_at or -1, 1),
            recovery_seconds=round(recovery, 1),
            visibility_timeout=PRODUCTION_VISIBILITY_TIMEOUT,
        )
        print(
            f"\nkilled at {done}/{total} groups; reclaimed after {reclaimed_at:.1f} s; "
            f"done {recovery:.1f} s after the kill"
        )
        trial_log.check(final.status == "done", f"run {final.status} {recovery:.0f} s after kill")
        trial_log.check(recovery < 120, f"recovery took {recovery:.1f} s (limit 120 s)")
        trial_log.check(final.groups_done == final.groups_total, f"groups {progress(run.pk)}")
        trial_log.check(invoice_state() == reference, "result differs from a clean run")
        trial_log.check(not half_built(), f"inconsistent after resume: {half_built()[:3]}")
        entries = list(EntryBilling.objects.values_list("entry_id", flat=True))
        trial_log.check(len(entries) == len(set(entries)), "an entry billed twice")
    trial_log.assert_clean()
