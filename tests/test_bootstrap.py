"""`make run`'s bootstrap on a fresh PostgreSQL database, tasks in-process (issue 2): it seeds the
demo firm, prints one login per role and the URL, and a second run changes nothing."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
LOGINS = {
    "admin": None,
    "billing": "Billing admin",
    "manager": "Services manager",
    "finance": "Finance",
    "auditor": "Auditor",
}


@pytest.fixture
def demo_db() -> Iterator[str]:
    """A throwaway database on the test server; yields its URL."""
    base = os.environ["DATABASE_URL"]
    name = os.environ.get("TEST_DATABASE_NAME", "test_billable") + "_bootstrap"
    admin = psycopg2.connect(base.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def bootstrap(url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "TEST_DATABASE_NAME"}
    }
    env.update(DEBUG="1", DATABASE_URL=url, MEDIA_ROOT=str(tmp_path / "media"))
    return subprocess.run(
        [sys.executable, "manage.py", "bootstrap_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def query(url: str, sql: str) -> list[tuple]:
    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


def snapshot(url: str) -> dict[str, tuple[int, str]]:
    """Every table: row count and a hash of its rows."""
    tables = [
        r[0]
        for r in query(
            url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    out = {}
    for table in tables:
        rows = sorted(repr(r) for r in query(url, f'SELECT * FROM "{table}"'))
        out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    return out


def assert_logins_printed(stdout: str) -> None:
    assert "billable-demo" in stdout
    for username in LOGINS:
        assert re.search(rf"^\s+{username}\s", stdout, re.M), username


def test_bootstrap_seeds_prints_logins_and_is_idempotent(demo_db, tmp_path):
    db = demo_db
    first = bootstrap(db, tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
    assert "seeding the demo firm" in first.stdout
    assert_logins_printed(first.stdout)

    # The demo firm came in through the imports, with history naming the importing user.
    assert query(db, "SELECT COUNT(*) FROM agreements_agreement") == [(56,)]
    assert query(db, "SELECT COUNT(*) FROM timesheets_timeentry")[0][0] > 3_000
    assert (
        query(
            db,
            "SELECT COUNT(*) FROM timesheets_historicaltimeentry WHERE history_user_id IS NOT NULL",
        )[0][0]
        > 3_000
    )
    codes = {c for (c,) in query(db, "SELECT DISTINCT code FROM timesheets_flag")}
    assert {"NO_AGREEMENT", "OVER_CAP", "DUPLICATE_ENTRY", "EXCESSIVE_DAILY_HOURS"} <= codes
    # History months are approved and partly paid; the last closed month waits as drafts.
    assert query(db, "SELECT COUNT(*) FROM invoicing_invoice WHERE status = 'draft'")[0][0] > 0
    assert query(db, "SELECT COUNT(*) FROM invoicing_invoice WHERE number IS NOT NULL")[0][0] > 0
    assert query(db, "SELECT COUNT(*) FROM receivables_allocation")[0][0] > 0
    # The dashboard's default month shows its unbilled value (its GET never computes one).
    from timesheets.services import unbilled_default_day

    stored = "SELECT last_day FROM timesheets_unbilledvaluesnapshot WHERE as_of IS NOT NULL"
    assert unbilled_default_day() in {day for (day,) in query(db, stored)}
    # One login per role, each in its role's group; admin is a superuser.
    groups = dict(
        query(
            db,
            """
        SELECT u.username, g.name FROM auth_user u
        JOIN auth_user_groups ug ON ug.user_id = u.id JOIN auth_group g ON g.id = ug.group_id""",
        )
    )
    for username, role in LOGINS.items():
        if role:
            assert groups[username] == role
    assert query(db, "SELECT is_superuser FROM auth_user WHERE username = 'admin'") == [(True,)]

    before = snapshot(db)
    second = bootstrap(db, tmp_path)
    assert second.returncode == 0, second.stderr[-4000:]
    assert "seeding" not in second.stdout
    assert_logins_printed(second.stdout)
    assert snapshot(db) == before
