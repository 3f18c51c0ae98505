"""Real processes of Billable started from this checkout: a Celery worker and gunicorn.

One way to start, wait for and stop them, for the bench (step 7's workers) and for the tests
(tests/worker.py, tests/reliability, tests/attack). Each is `python -m celery|gunicorn ...` from
the repository root, in a session of its own so that `stop()` (SIGTERM, then SIGKILL after 30 s)
and `kill()` (SIGKILL, as a lost machine) reach the whole process group (a prefork worker's pool
children, gunicorn's workers). Its output is appended to `log`, which is emptied when the
object is made. A worker is ready when its log says "ready." once per start; gunicorn when
/healthz answers 200 and all its workers are forked. The caller gives the environment.

It lives in bench/ because that is the existing direction: tests import bench (tests/bench) and
bench imports nothing from tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A worker that needs no word with other workers: no gossip, no mingle at start, no heartbeat.
QUIET = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def celery(command: str, *options: str) -> list[str]:
    """`celery -A billing_site <command> <options>` with this interpreter."""
    return [sys.executable, "-m", "celery", "-A", "billing_site", command, *options]


def children(pid: int) -> list[int]:
    """The pids of `pid`'s child processes (none once it has gone)."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Process:
    name = "process"
    ready_s = 120.0  # how long start() waits for readiness
    interval = 0.1  # seconds between looks at the log

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.argv = list(argv)
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")

    def popen(self, *, stdin: int | None = None) -> subprocess.Popen[bytes]:
        """A new process of `argv` writing to the log (not yet this object's `proc`)."""
        with self.log.open("ab") as out:
            return subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=stdin,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def spawn(self) -> None:
        self.proc = self.popen()
        self.starts += 1

    def wait_ready(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start a new process (cold, as a supervisor restarts one) and wait until it is ready."""
        self.spawn()
        self.wait_ready()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> None:
        """Raise if the process has exited (or was never started)."""
        if not self.alive():
            code = self.proc.returncode if self.proc is not None else None
            raise RuntimeError(f"{self.name} exited ({code}):\n{self.tail()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return self.text()[-3000:]

    def wait_for_log(self, text: str, count: int = 1, timeout: float | None = None) -> None:
        """Until the log holds `text` `count` times; raise if the process exits first."""
        timeout = self.ready_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if self.text().count(text) >= count:
                return
            time.sleep(self.interval)
        raise RuntimeError(f"{self.name}: no {text!r} in {timeout:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group (main process and children), as a lost machine."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def terminate(self) -> None:
        """SIGTERM to the process group, without waiting (`reap` waits)."""
        if self.alive():
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGTERM)

    def reap(self, timeout: float = 30) -> None:
        """Wait for the process to exit (after `terminate`); SIGKILL it past `timeout` s."""
        if self.proc is not None:
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the process group; SIGKILL if it has not exited after `timeout` s."""
        self.terminate()
        self.reap(timeout)


class Worker(Process):
    """`celery -A billing_site worker <options>`; ready at its "ready." line."""

    name = "worker"
    ready_s = 60.0
    interval = 0.2

    def __init__(self, env: dict[str, str], log: Path, *options: str) -> None:
        super().__init__(celery("worker", *options), env, log)

    def wait_ready(self, timeout: float | None = None) -> None:
        self.wait_for_log("ready.", count=self.starts, timeout=timeout)


class Gunicorn(Process):
    """`gunicorn billing_site.wsgi:application` with `workers` workers on 127.0.0.1:`port`."""

    name = "gunicorn"

    def __init__(
        self, env: dict[str, str], log: Path, port: int, *options: str, workers: int = 2
    ) -> None:
        argv = [sys.executable, "-m", "gunicorn", "billing_site.wsgi:application"]
        argv += [f"--bind=127.0.0.1:{port}", f"--workers={workers}", *options]
        super().__init__(argv, env, log)
        self.port = port
        self.worker_count = workers

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The pids of its worker processes, sorted."""
        assert self.proc is not None
        return sorted(children(self.proc.pid))

    def serving(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float | None = None) -> None:
        timeout = self.ready_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if self.serving() and len(self.workers()) == self.worker_count:
                return
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn not serving in {timeout:.0f} s:\n{self.tail()}")


def start_all(procs: Sequence[Process], timeout: float) -> None:
    """Spawn every process, then wait until all are ready, `timeout` s for all of them."""
    for proc in procs:
        proc.spawn()
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.wait_ready(deadline - time.monotonic())


def stop_all(procs: Sequence[Process], timeout: float = 30) -> None:
    """SIGTERM to every process group, then wait for each (SIGKILL past `timeout` s)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.reap(timeout)


def reset_producer_pools() -> None:
    """Drop this process's broker connections and producer pools, so the next publish connects
    afresh to the broker configured now (a new URL, or after a restart). Closing is not enough:
    kombu keeps closed pools in a global registry keyed by URL, and eager tasks still acquire a
    producer from the pool (Celery 5.3+), which fails on a closed one."""
    from kombu import pools

    from billing_site.celery import app

    if app.__dict__.get("_pool") is not None:
        app.pool.force_close_all()
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_publishing_to(
    broker_url: str, queue: str | None = None, **conf: object
) -> Iterator[None]:
    """This process's Celery app publishing to `broker_url` (on `queue`, when given; with any
    further `conf` settings) instead of running tasks eagerly, restored on exit; the producer
    pools are reset both ways so no publish goes to the broker of before."""
    from billing_site.celery import app

    settings: dict[str, object] = {"task_always_eager": False, "broker_url": broker_url, **conf}
    if queue is not None:
        settings["task_default_queue"] = queue
    saved = {key: app.conf.get(key) for key in settings}
    app.conf.update(**settings)
    reset_producer_pools()
    try:
        yield
    finally:
        app.conf.update(**saved)
        reset_producer_pools()
