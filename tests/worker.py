"""A real Celery worker on Redis for tests (no eager mode, no mocks).

Usage: a test marked `@pytest.mark.django_db(transaction=True)` asks for `celery_worker`; tasks
it enqueues run in a separate `celery worker` process against the same PostgreSQL test database.
Each test session uses its own queue so parallel runs on one Redis never steal each other's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from billing_site.celery import app

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def worker_env(queue: str) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=REDIS_URL,
        CELERY_QUEUE=queue,
        # The worker reads and writes the files the test's storage holds (a test may point
        # MEDIA_ROOT at its own tmp_path before asking for the worker).
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    return env


class WorkerProcess:
    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(f"/tmp/billable-worker-{queue}.log")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "billing_site",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "-Q",
                self.queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=worker_env(self.queue),
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()}")
            if "ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in 60 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would: no clean shutdown, unacked tasks go back."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[WorkerProcess]:
    """Point this process's Celery app at Redis and start one real worker process."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    saved = {k: app.conf.get(k) for k in ("task_always_eager", "broker_url", "task_default_queue")}
    app.conf.update(task_always_eager=False, broker_url=REDIS_URL, task_default_queue=queue)
    reset_producer_pools()
    worker = WorkerProcess(queue)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.update(**saved)
        reset_producer_pools()


def reset_producer_pools() -> None:
    """Drop this process's broker connections and producer pools, so the next publish connects
    afresh to the broker configured now (a new URL, or after a restart). Closing is not enough:
    kombu keeps closed pools in a global registry keyed by URL, and eager tasks still acquire a
    producer from the pool (Celery 5.3+), which fails on a closed one."""
    from kombu import pools

    if app.__dict__.get("_pool") is not None:
        app.pool.force_close_all()
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail the test with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
