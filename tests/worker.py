"""A real Celery worker on Redis for tests (no eager mode, no mocks).

Usage: a test marked `@pytest.mark.django_db(transaction=True)` asks for `celery_worker`; tasks
it enqueues run in a separate `celery worker` process against the same PostgreSQL test database.
Each test session uses its own queue so parallel runs on one Redis never steal each other's tasks.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bench.processes import QUIET, Worker, celery_publishing_to

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


class WorkerProcess(Worker):
    """One `celery worker --pool=solo` on `queue` against the test database; `kill()` is a
    SIGKILL, as a crashed machine would: no clean shutdown, unacked tasks go back."""

    def __init__(self, queue: str) -> None:
        super().__init__(
            worker_env(queue),
            Path(f"/tmp/billable-worker-{queue}.log"),
            *("--pool=solo", "--concurrency=1", "-Q", queue, *QUIET, "--loglevel=INFO"),
        )
        self.queue = queue


@pytest.fixture
def celery_worker(transactional_db) -> Iterator[WorkerProcess]:
    """Point this process's Celery app at Redis and start one real worker process."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    with celery_publishing_to(REDIS_URL, queue):
        worker = WorkerProcess(queue)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail the test with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
