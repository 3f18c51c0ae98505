"""Smoke run of the `make run` path on a throwaway PostgreSQL database.

Creates `billable_smoke` on the server of $DATABASE_URL (dropped at the end), bootstraps the demo firm exactly as `make run` does, starts the development server on a free
port, and checks that the login page answers 200. Exits non-zero on any failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_database(server_url: str, name: str) -> Iterator[str]:
    admin = psycopg2.connect(server_url.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> int:
    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with (
        tempfile.TemporaryDirectory(prefix="billable-smoke-") as tmp,
        throwaway_database(server_url, "billable_smoke") as url,
    ):
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY"}
        }
        env.update(DEBUG="1", DATABASE_URL=url, MEDIA_ROOT=f"{tmp}/media")
        python = sys.executable
        boot = subprocess.run(
            [python, "manage.py", "bootstrap_demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        print(boot.stdout)
        if boot.returncode != 0:
            print(boot.stderr, file=sys.stderr)
            print("smoke: bootstrap_demo failed", file=sys.stderr)
            return 1
        port = free_port()
        server = subprocess.Popen(
            [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/accounts/login/", timeout=5
                    ) as r:
                        status = r.status
                        body = r.read().decode()
                    break
                except OSError:
                    time.sleep(0.5)
            else:
                print("smoke: the server did not answer within 60 s", file=sys.stderr)
                return 1
            if status != 200 or "Log in" not in body:
                print(f"smoke: login page answered {status}", file=sys.stderr)
                return 1
            print(f"smoke: login page answered 200 on port {port}")
            return 0
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
