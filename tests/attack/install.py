"""A production-like install to attack over real HTTP (issue 17): gunicorn with 2 sync workers,
DEBUG off, a random SECRET_KEY and ALLOWED_HOSTS, a fresh PostgreSQL database of its own, Redis
(broker and shared cache) on its own db number, a real Celery worker, migrated and seeded by
tests/attack/seed.py. Nothing of the test process's Django is used: the attacks see only what
an outsider sees, and read the database through their own connection to check nothing was
written.

The server's memory: `Workers.reset_peaks()` clears each gunicorn worker's high-water mark
(writing 5 to /proc/PID/clear_refs) and `Workers.usage()` reads VmRSS and VmHWM from
/proc/PID/status, so an attack's peak is the worker's VmHWM after it, against its VmRSS before.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import requests

from bench.processes import ROOT, Gunicorn, Process, Worker, start_all, stop_all
from core.embedded_pg import free_port

PG_URL = os.environ.get("ATTACK_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get(
    "ATTACK_REDIS_URL", os.environ.get("BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")
)
# Lowered from the production 1200/min so the 429 attack needs 121 requests, not 1,201.
TOKEN_RATE = "120/min"
KB = 1024


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@dataclass
class Usage:
    """One attack's memory, per gunicorn worker: RSS before it and peak (VmHWM) during it, kB."""

    idle: dict[int, int]
    peak: dict[int, int] = field(default_factory=dict)

    @property
    def growth_mb(self) -> float:
        return max(self.peak[p] - self.idle[p] for p in self.idle) / KB

    @property
    def peak_mb(self) -> float:
        return max(self.peak.values()) / KB

    @property
    def idle_mb(self) -> float:
        return max(self.idle.values()) / KB


class Workers:
    def __init__(self, server: Gunicorn) -> None:
        self.server = server

    def pids(self) -> list[int]:
        return self.server.workers()

    def reset_peaks(self) -> Usage:
        pids = self.pids()
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        return Usage(idle={pid: status_kb(pid, "VmRSS") for pid in pids})

    def finish(self, usage: Usage) -> Usage:
        current = self.pids()
        if current != sorted(usage.idle):
            raise AssertionError(
                f"gunicorn workers changed during the attack: {usage.idle} -> {current}"
            )
        usage.peak = {pid: status_kb(pid, "VmHWM") for pid in current}
        return usage


class Install:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.db_name = f"billable_attack_{self.tag}"
        self.tmp = Path(tempfile.mkdtemp(prefix="billable-attack-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.queue = f"attack-{self.tag}"
        self.procs: list[Process] = []
        self.world: dict = {}
        self.timings: dict[str, float] = {}
        pg = urllib.parse.urlsplit(PG_URL)
        self.database_url = urllib.parse.urlunsplit(pg._replace(path="/" + self.db_name))
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("DJANGO", "TEST_", "BILLABLE_TEST", "PYTEST"))
                and k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "MEDIA_ROOT"}
            },
            "DJANGO_SETTINGS_MODULE": "billing_site.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on loopback: no HTTPS redirect or secure-only cookies (TLS is a proxy's).
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "WHITENOISE_USE_FINDERS": "1",
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": REDIS_URL,
            "CACHE_URL": REDIS_URL,
            # Its own login counts and rate limits: an earlier run's lock-outs live 15 minutes.
            "CACHE_KEY_PREFIX": f"attack-{self.tag}",
            "CELERY_QUEUE": self.queue,
            "MEDIA_ROOT": str(self.tmp / "media"),
            "BILLABLE_API_RATE_TOKEN": TOKEN_RATE,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "LOG_LEVEL": "WARNING",
        }

    # --- database ----------------------------------------------------------------------------

    def _admin_sql(self, sql: str) -> None:
        conn = psycopg2.connect(PG_URL)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def connect(self):
        conn = psycopg2.connect(self.database_url)
        conn.autocommit = True
        return conn

    def count(self, table: str, where: str = "TRUE") -> int:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {table} WHERE {where}")  # noqa: S608 - our SQL
                return cur.fetchone()[0]
        finally:
            conn.close()

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()

    # --- processes ---------------------------------------------------------------------------

    def _run(self, name: str, *args: str) -> None:
        started = time.monotonic()
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(
                [sys.executable, *args],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.timings[name] = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{log.read_text()[-4000:]}")

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def start(self) -> Install:
        self._admin_sql(f'CREATE DATABASE "{self.db_name}"')
        self._run("migrate", "manage.py", "migrate", "--noinput")
        self._run("seed", "-m", "tests.attack.seed", str(self.tmp / "world.json"))
        self.world = json.loads((self.tmp / "world.json").read_text())
        started = time.monotonic()
        self.worker = Worker(
            self.env,
            self.tmp / "celery.log",
            *("--pool=solo", "-Q", self.queue, "--without-gossip", "--without-mingle"),
            "--loglevel=INFO",
        )
        self.gunicorn = Gunicorn(
            self.env,
            self.tmp / "gunicorn.log",
            self.port,
            "--worker-class=sync",
            "--timeout=120",  # as the Dockerfile
            f"--access-logfile={self.tmp / 'access.log'}",
            "--access-logformat=%(s)s %(m)s %(U)s",
            workers=2,
        )
        self.procs = [self.worker, self.gunicorn]
        start_all(self.procs, 120)
        # Each worker imports the app lazily: warm both before anything is measured.
        for _ in range(6):
            requests.get(self.url + "/accounts/login/", timeout=30)
        self.timings["serve"] = time.monotonic() - started
        return self

    @property
    def workers(self) -> Workers:
        return Workers(self.gunicorn)

    def stop(self) -> None:
        stop_all(self.procs[::-1])
        try:
            self._admin_sql(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except psycopg2.Error:
            pass

    def check_alive(self) -> None:
        """No attack may take a worker down: both gunicorn workers and the Celery worker live."""
        assert self.gunicorn.alive() and self.worker.alive()
        assert "WORKER TIMEOUT" not in self.log("gunicorn"), self.log("gunicorn")[-2000:]
        assert not self.server_errors(), self.server_errors()

    def server_errors(self) -> list[str]:
        """Every request gunicorn answered with a 5xx (its access log: status method path)."""
        return [line for line in self.log("access").splitlines() if line.startswith("5")]
