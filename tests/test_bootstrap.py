"""`make run`'s bootstrap on a fresh SQLite file, tasks in-process (issue 2): it seeds the demo
firm, prints one login per role and the URL, and a second run changes nothing."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGINS = {
    "admin": None,
    "billing": "Billing admin",
    "manager": "Services manager",
    "finance": "Finance",
    "auditor": "Auditor",
}


def bootstrap(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "TEST_DATABASE_NAME"}
    }
    env.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path}/demo.sqlite3",
        MEDIA_ROOT=str(tmp_path / "media"),
        PORT="8765",
    )
    return subprocess.run(
        [sys.executable, "manage.py", "bootstrap_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def snapshot(db: Path) -> dict[str, tuple[int, str]]:
    """Every table: row count and a hash of its rows."""
    con = sqlite3.connect(db)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        out = {}
        for table in tables:
            rows = sorted(repr(r) for r in con.execute(f'SELECT * FROM "{table}"'))
            out[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def assert_logins_printed(stdout: str) -> None:
    assert "http://127.0.0.1:8765/" in stdout
    assert "billable-demo" in stdout
    for username in LOGINS:
        assert re.search(rf"^\s+{username}\s", stdout, re.M), username


def test_bootstrap_seeds_prints_logins_and_is_idempotent(tmp_path):
    first = bootstrap(tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-4000:]
    assert "seeding the demo firm" in first.stdout
    assert_logins_printed(first.stdout)
    db = tmp_path / "demo.sqlite3"

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
    assert query(db, "SELECT is_superuser FROM auth_user WHERE username = 'admin'") == [(1,)]

    before = snapshot(db)
    second = bootstrap(tmp_path)
    assert second.returncode == 0, second.stderr[-4000:]
    assert "seeding" not in second.stdout
    assert_logins_printed(second.stdout)
    assert snapshot(db) == before
