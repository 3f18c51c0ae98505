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
- `held(sql)` runs `sql` (a LOCK or SELECT ... FOR UPDATE) on a connection of its own and holds it
  until the block ends, so a run or request is stopped at a known point whatever the machine's
  speed; `lock_waiters(table)` lists the connections waiting on `table`.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from django.conf import settings
from django.db import connection

from tests.worker import REDIS_URL, ROOT, worker_env

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


class _Process:
    name = "process"

    def __init__(self, queue: str, log: Path) -> None:
        self.queue = queue
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def spawn(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            if self.log.read_text(errors="replace").count(text) >= count:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no {text!r} in {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL to the whole process group (main process and children), as a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class ProductionWorker(_Process):
    name = "worker"

    def __init__(self, queue: str, log: Path) -> None:
        super().__init__(queue, log)
        self.starts = 0

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "billing_site", "worker"] + [
            "--loglevel=INFO",
            "--concurrency=2",
        ]

    def start(self) -> None:
        """Start a new worker process (cold, as a supervisor restarts one) and wait until ready."""
        self.spawn(production_env(self.queue))
        self.starts += 1
        self.wait_for_log("ready.", count=self.starts)


class Beat(_Process):
    name = "beat"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "billing_site", "beat", "--loglevel=INFO"] + [
            f"--schedule={self.log.with_suffix('.schedule')}",
            f"--pidfile={self.log.with_suffix('.pid')}",
        ]

    def start(self) -> None:
        self.spawn(production_env(self.queue))
        self.wait_for_log("beat: Starting")

    def sent(self, entry: str) -> int:
        """How many times beat has sent its schedule's `entry` so far (a log line per send)."""
        return self.log.read_text(errors="replace").count(f"Sending due task {entry} ")


class Gunicorn(_Process):
    name = "gunicorn"

    def __init__(self, queue: str, log: Path, port: int) -> None:
        super().__init__(queue, log)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "billing_site.wsgi:application"] + [
            f"--bind=127.0.0.1:{self.port}",
            "--workers=2",
            "--timeout=120",
        ]

    def start(self) -> None:
        self.spawn(production_env(self.queue))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn not serving in 120 s:\n{self.tail()}")

    def workers(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        return [int(pid) for pid in children.split()]

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
