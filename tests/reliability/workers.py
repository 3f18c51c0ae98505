"""Real Celery workers for the reliability tests, built on tests/worker.py's WorkerProcess.

`private_worker(...)` starts one `celery worker` process on its own queue, against the PostgreSQL
test database, with a short Redis visibility timeout so a task whose worker was SIGKILLed is
delivered again seconds after a new worker starts (production keeps one hour:
CELERY_VISIBILITY_TIMEOUT). `broker_url` may point at a private redis-server (RedisServer) that a
test restarts; the machine's shared Redis on 6379 is never touched. With a short visibility
timeout the worker also gets a short run heartbeat (RUN_STALE_SECONDS=3); pass
`visibility_timeout=3600` for production timeouts (tests/reliability/test_dead_worker.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis

from bench.processes import QUIET, celery_publishing_to
from core.embedded_pg import free_port
from tests.worker import REDIS_URL, WorkerProcess, worker_env

VISIBILITY_TIMEOUT = 1  # seconds


class Worker(WorkerProcess):
    """A worker started from a warmed process (warm_worker.py): `prepare()` spawns the next one
    and lets it import everything, `start()` tells it to consume and waits for its "ready."."""

    ready_s = 90.0
    interval = 0.05

    def __init__(self, queue: str, broker_url: str, extra_env: dict[str, str]) -> None:
        super().__init__(queue)
        self.broker_url = broker_url
        self.extra_env = extra_env
        self.warm: subprocess.Popen[bytes] | None = None
        self.argv = [sys.executable, str(Path(__file__).with_name("warm_worker.py"))]
        self.argv += [*self.ARGS, "-Q", queue]

    ARGS = ["--pool=solo", "--concurrency=1", *QUIET, "--loglevel=INFO"]

    def prepare(self) -> None:
        """Spawn the next worker process and let it import everything (it waits for start())."""
        if self.warm is None or self.warm.poll() is not None:
            self.env = worker_env(self.queue)
            self.env.update(self.extra_env, CELERY_BROKER_URL=self.broker_url)
            self.warm = self.popen(stdin=subprocess.PIPE)

    def spawn(self) -> None:
        self.prepare()
        self.proc, self.warm = self.warm, None
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()
        self.starts += 1

    def stop(self, timeout: float = 30) -> None:
        super().stop(timeout)
        if self.warm is not None and self.warm.poll() is None:
            os.killpg(self.warm.pid, signal.SIGKILL)
            self.warm.wait(timeout=30)
        self.warm = None


@contextmanager
def private_worker(
    broker_url: str = REDIS_URL,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    extra_env: dict[str, str] | None = None,
):
    queue = f"rel-{uuid.uuid4().hex[:10]}"
    options = {"visibility_timeout": visibility_timeout}
    env = {"CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout)}
    if visibility_timeout < 60:
        # Seconds-scale tests: a redelivered run whose dead worker beat a moment ago is claimed
        # seconds later (core/runs.py), not after the production 90 s.
        env.update(RUN_STALE_SECONDS="3", RUN_HEARTBEAT_SECONDS="1")
    env.update(extra_env or {})
    worker = Worker(queue, broker_url, env)
    try:
        with celery_publishing_to(broker_url, queue, broker_transport_options=options):
            worker.start()
            try:
                yield worker
            finally:
                worker.stop()
    finally:
        try:
            client = redis.Redis.from_url(broker_url, socket_timeout=2)
            client.delete(queue)
        except redis.RedisError:
            pass


class RedisServer:
    """A private, throwaway redis-server (no persistence) that a test may stop and restart."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = Path(f"/tmp/billable-redis-{self.port}")
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=1).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on {self.port} did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as a crash would: no save, everything in memory is gone
            self.proc.wait(timeout=10)

    def restart(self, down_seconds: float = 0.5) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()
        self.restarts += 1
