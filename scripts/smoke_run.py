"""Smoke run of `make run` (scripts/run_embedded.py) on a throwaway embedded PostgreSQL.

With DATABASE_URL unset, as a newcomer runs it, but with its data directory in a temporary folder
and free ports: waits for "Billable is ready at", checks that /healthz reports PostgreSQL and the
login page answers 200, that an unknown URL shows the app's own 404 page (DEBUG is off) and the
stylesheet is served, then sends SIGTERM and checks that the web server and the database both
stopped. Exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded_pg import free_port, port_answers  # noqa: E402

BOOT_TIMEOUT = 1200  # seeding the demo on a busy 2-core machine


def fail(message: str) -> int:
    print(f"smoke: {message}", file=sys.stderr)
    return 1


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def check_served(web: int) -> str | None:
    """The problem with the served app, or None."""
    status, body = get(f"http://127.0.0.1:{web}/healthz")
    health = json.loads(body)
    if status != 200 or health.get("database_engine") != "PostgreSQL":
        return f"/healthz answered {status}: {body}"
    status, body = get(f"http://127.0.0.1:{web}/accounts/login/")
    if status != 200 or "Log in" not in body:
        return f"login page answered {status}"
    try:
        status, body = get(f"http://127.0.0.1:{web}/no-such-page/")
    except urllib.error.HTTPError as missing:
        status, body = missing.code, missing.read().decode()
    if status != 404 or "There is nothing at this address." not in body or "URLconf" in body:
        return f"an unknown URL answered {status} without the app's own 404 page"
    status, _ = get(f"http://127.0.0.1:{web}/static/billable.css")
    if status != 200:
        return f"the stylesheet answered {status}"
    print(
        f"smoke: served on PostgreSQL {health['database_version']}, login page 200, "
        "the app's own 404 page, static files"
    )
    return None


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="billable-smoke-") as tmp:
        web, pg_port = free_port(), free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "TEST_DATABASE_NAME"}
        }
        env.update(
            PORT=str(web),
            BILLABLE_PG_DATA=f"{tmp}/pg",
            BILLABLE_PG_PORT=str(pg_port),
            MEDIA_ROOT=f"{tmp}/media",
        )
        run = subprocess.Popen(
            [sys.executable, "scripts/run_embedded.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def relay() -> None:
            assert run.stdout is not None
            for line in run.stdout:
                print(line, end="", flush=True)
                if "Billable is ready at" in line:
                    ready.set()

        reader = threading.Thread(target=relay, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + BOOT_TIMEOUT
            while not ready.wait(1):
                if run.poll() is not None or time.monotonic() > deadline:
                    return fail("`make run` never printed 'Billable is ready at'")
            if problem := check_served(web):
                return fail(problem)
        finally:
            if run.poll() is None:
                run.send_signal(signal.SIGTERM)
            code = run.wait(timeout=60)
            reader.join(timeout=5)
        if code != 0:
            return fail(f"`make run` exited {code} after SIGTERM")
        if port_answers("127.0.0.1", web) or port_answers("127.0.0.1", pg_port):
            return fail("the web server or PostgreSQL still answers after SIGTERM")
        print("smoke: SIGTERM stopped the web server and the embedded PostgreSQL")
        return 0


if __name__ == "__main__":
    sys.exit(main())
