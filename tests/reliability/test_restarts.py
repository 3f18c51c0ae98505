"""Broker and database restarts (issue 9).

- Redis restarted during a run: a private redis-server (never the shared one on 6379) is killed
  and started again, empty, while the worker is running an invoice run. The run completes from
  the database state, gives the result of one clean run, and the worker reconnects and runs the
  next task.
- A PostgreSQL connection dropped mid-task: the worker's backend is terminated with
  pg_terminate_backend (the shared server is never restarted) at a random point of the run; the
  task is retried and the run ends as one clean run.
A trial is one restart or one dropped connection; a violation is a run that does not finish DONE
with the clean result, a half-built invoice, or a worker that does not process the next task.
"""

from __future__ import annotations

import random
import time

import pytest
from django.db import connection

from bench.processes import reset_producer_pools
from invoicing.models import InvoiceRun
from invoicing.services import invoice_run_generate, invoice_run_start
from tests.reliability.billing_data import (
    PERIOD,
    build_firm,
    half_built,
    invoice_state,
    reset_invoicing,
)
from tests.reliability.conftest import trial_count
from tests.reliability.workers import RedisServer, private_worker
from tests.worker import wait_for

pytestmark = [pytest.mark.worker]


def status(run_id: int) -> str:
    return InvoiceRun.objects.values_list("status", flat=True).get(pk=run_id)


def reference_state() -> dict:
    invoice_run_generate(period=PERIOD)
    state = invoice_state()
    reset_invoicing()
    return state


def wait_done(log, run_id: int, label: str, timeout: float = 90) -> bool:
    """Wait for DONE. A run may show `failed` while its task waits for a retry: not final."""
    try:
        wait_for(lambda: status(run_id) == "done", timeout=timeout)
    except pytest.fail.Exception:
        log.violation(f"{label}: run still {status(run_id)} after {timeout:.0f} s")
        return False
    return True


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_redis_restarted_during_a_run(trial_log, redis_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    build_firm(groups=12, entries_per_group=6)
    reference = reference_state()
    rnd = random.Random(6390)
    trials = trial_count(3, 20)
    mid_run = 0
    with private_worker(broker_url=redis_server.url) as worker:
        run = invoice_run_start(period=PERIOD, user=None)
        wait_for(lambda: status(run.pk) != "queued", timeout=60)
        began = time.monotonic()
        wait_for(lambda: status(run.pk) == "done", timeout=120)
        typical = time.monotonic() - began
        for trial in range(trials):
            reset_invoicing()
            trial_log.trial()
            run = invoice_run_start(period=PERIOD, user=None)
            wait_for(lambda run_id=run.pk: status(run_id) != "queued", timeout=60, interval=0.01)
            time.sleep(rnd.uniform(0, typical * 0.5))
            was = status(run.pk)
            mid_run += was == "running"
            # Killed and started empty (no persistence): the broker forgets everything.
            redis_server.restart(down_seconds=rnd.uniform(0.2, 2.0))
            label = f"restart {trial} (run was {was})"
            if wait_done(trial_log, run.pk, label):
                trial_log.check(
                    invoice_state() == reference, f"{label}: result differs from a clean run"
                )
            trial_log.check(not half_built(), f"{label}: half-built invoices")
            trial_log.check(worker.alive(), f"{label}: the worker died with the broker")
            # The worker reconnected: a new task goes through the restarted broker.
            reset_producer_pools()
            again = invoice_run_start(period=PERIOD, user=None)
            wait_done(trial_log, again.pk, f"{label}: next task after reconnect", timeout=120)
        trial_log.notes.update(
            redis_restarts=redis_server.restarts,
            restarted_mid_run=mid_run,
            typical_run_seconds=round(typical, 2),
        )
    # Not a violation but a broken test: restarts must hit running tasks.
    assert mid_run >= max(1, trials / 4), f"only {mid_run} of {trials} restarts hit a running task"
    trial_log.assert_clean()


def worker_backends() -> list[int]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return [r[0] for r in cur.fetchall()]


def terminate(pids: list[int]) -> int:
    with connection.cursor() as cur:
        for pid in pids:
            cur.execute("SELECT pg_terminate_backend(%s)", [pid])
    return len(pids)


@pytest.mark.django_db(transaction=True)
def test_postgresql_connection_dropped_mid_task_is_retried(trial_log, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # Enough groups that a run lasts about a second: the drops must land while it works.
    build_firm(groups=60, entries_per_group=6)
    reference = reference_state()
    rnd = random.Random(5432)
    dropped = mid_run = 0
    trials = trial_count(4, 20)
    with private_worker():
        # How long the worker takes from RUNNING to DONE: the window to drop the connection in.
        run = invoice_run_start(period=PERIOD, user=None)
        wait_for(lambda: status(run.pk) != "queued", timeout=60)
        began = time.monotonic()
        wait_for(lambda: status(run.pk) == "done", timeout=120)
        typical = time.monotonic() - began
        for trial in range(trials):
            reset_invoicing()
            trial_log.trial()
            run = invoice_run_start(period=PERIOD, user=None)
            wait_for(lambda run_id=run.pk: status(run_id) != "queued", timeout=60, interval=0.01)
            time.sleep(rnd.uniform(0, typical * 0.5))
            was = status(run.pk)
            killed = terminate(worker_backends())
            dropped += killed
            mid_run += bool(killed and was == "running")
            label = f"drop {trial} (run was {was}, {killed} backend(s))"
            if wait_done(trial_log, run.pk, label, timeout=120):
                trial_log.check(
                    invoice_state() == reference, f"{label}: result differs from a clean run"
                )
            trial_log.check(not half_built(), f"{label}: half-built invoices")
    trial_log.notes.update(
        backends_terminated=dropped, dropped_mid_run=mid_run, typical_run_seconds=round(typical, 2)
    )
    # Not a violation but a broken test: most drops must hit a running task.
    assert mid_run >= max(1, trials / 4), f"only {mid_run} of {trials} drops hit a running task"
    trial_log.assert_clean()
