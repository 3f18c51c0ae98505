"""Processes started the way production starts them, for the kill tests with production timeouts
(issue 17 items 5 and 6; docs/reliability.md, "Kill tests with production timeouts").

- `ProductionWorker`: `celery -A billing_site worker --loglevel=INFO --concurrency=2`, the
  docker-compose worker's command line (prefork: a main process and two pool children), with
  DEBUG off and none of the overrides the other reliability tests set: the broker's visibility
  timeout (CELERY_VISIBILITY_TIMEOUT), RUN_HEARTBEAT_SECONDS and RUN_STALE_SECONDS come from
  billing_site/settings.py's defaults. Its queue is the test's own, through CELERY_QUEUE (the
  setting production reads), not `-Q`. `kill()` SIGKILLs its whole process group.
- `Beat`: `celery -A billing_site beat` on the same queue, with the production schedule (the
  reclaim-dead-runs sweep every 30 s among the others); it runs for the whole test, as the one
  beat of an install does.
- `Gunicorn`: `gunicorn billing_site.wsgi:application --workers 2` with DEBUG off on a free
  port; `worker_serving(client_port)` names the worker process whose PostgreSQL connection
  leaves from that port, so a test SIGKILLs exactly the worker handling a request.
- All three are `bench/processes.py`'s processes (start, readiness, SIGTERM/SIGKILL of the group).
- `held(sql)` runs `sql` (a LOCK or SELECT ... FOR UPDATE) on a connection of its own and holds it
  until the block ends, so a run or request is stopped at a known point whatever the machine's
  speed; `lock_waiters(table)` lists the connections waiting on `table`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from django.conf import settings
from django.db import connection

from bench import processes
from bench.processes import ROOT, Process, Worker, celery
from tests.worker import REDIS_URL, worker_env

# The variables the other reliability tests set to shorten the timeouts; production sets none.
TEST_OVERRIDES = ("CELERY_VISIBILITY_TIMEOUT", "RUN_HEARTBEAT_SECONDS", "RUN_STALE_SECONDS")
PRODUCTION = {"visibility_timeout": 3600, "heartbeat": 15, "stale": 60, "sweep": 30.0}

_spec = importlib.util.spec_from_file_location("run_embedded", ROOT / "scripts" / "run_embedded.py")
assert _spec is not None and _spec.loader is not None
run_embedded = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_embedded)


def production_env(queue: str) -> dict[str, str]:
    """The environment of a production process on the test database and `queue`: DEBUG off,
    settings' own timeouts (no override), the test's MEDIA_ROOT and Redis."""
    env = {k: v for k, v in worker_env(queue).items() if k not in TEST_OVERRIDES}
    env.pop("DEBUG", None)
    env = run_embedded.served_env({**env, "SECRET_KEY": "kill-test-key"})
    env.update(CELERY_BROKER_URL=REDIS_URL, PYTHONUNBUFFERED="1")
    return env


def assert_production_timeouts() -> None:
    """This process reads settings from the same environment: no override may be set."""
    assert not [k for k in TEST_OVERRIDES if k in os.environ], "a timeout override is set"
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 3600
    assert (settings.RUN_HEARTBEAT_SECONDS, settings.RUN_STALE_SECONDS) == (15, 60)
    sweep = settings.CELERY_BEAT_SCHEDULE["reclaim-dead-runs"]["schedule"]
    assert sweep == PRODUCTION["sweep"]


class ProductionWorker(Worker):
    ready_s = 120.0
    interval = 0.1

    def __init__(self, queue: str, log: Path) -> None:
        super().__init__(production_env(queue), log, "--loglevel=INFO", "--concurrency=2")
        self.queue = queue


class Beat(Process):
    name = "beat"

    def __init__(self, queue: str, log: Path) -> None:
        options = [f"--schedule={log.with_suffix('.schedule')}"]
        options += [f"--pidfile={log.with_suffix('.pid')}"]
        super().__init__(celery("beat", "--loglevel=INFO", *options), production_env(queue), log)
        self.queue = queue

    def wait_ready(self, timeout: float | None = None) -> None:
        self.wait_for_log("beat: Starting", timeout=timeout)

    def sent(self, entry: str) -> int:
        """How many times beat has sent its schedule's `entry` so far (a log line per send)."""
        return self.text().count(f"Sending due task {entry} ")


class Gunicorn(processes.Gunicorn):
    def __init__(self, queue: str, log: Path, port: int) -> None:
        super().__init__(production_env(queue), log, port, "--timeout=120", workers=2)
        self.queue = queue

    def worker_serving(self, client_port: int) -> int:
        """The worker pid owning the TCP socket whose local port is `client_port`."""
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == client_port:
                    inodes.add(fields[9])
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return pid
        raise LookupError(f"no gunicorn worker holds a socket on port {client_port}")


@contextmanager
def held(*statements: str) -> Iterator[psycopg2.extensions.connection]:
    """Run `statements` (locks) in one transaction on a connection of its own; hold them until
    the block ends (then roll back)."""
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
            for sql in statements:
                cur.execute(sql)
        yield other
    finally:
        other.rollback()
        other.close()


def lock_waiters(table: str) -> list[tuple[int, int]]:
    """(backend pid, client port) of every connection waiting for a lock on `table` (the
    relation, or a row of it)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT a.pid, a.client_port FROM pg_stat_activity a"
            " JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted"
            " LEFT JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = %s OR (l.locktype = 'transactionid' AND a.query ILIKE %s)",
            [table, f"%{table}%"],
        )
        return cur.fetchall()
