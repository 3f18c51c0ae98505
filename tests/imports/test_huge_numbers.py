"""Issue 12: a numeric cell holding 100,000 digits is a row error in its column in all three
imports (before: int() raised "Exceeds the limit (4300 digits)" and the command printed a
traceback), exit 1, nothing written."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection

from tests.factories import AccountFactory
from tests.imports.data import snapshot
from tests.reliability import corpus
from tests.reliability.conftest import ROOT

HUGE = "1" * 100_000
TOO_LONG = "must be a number of at most 40 characters (it has 100000)"
COMMANDS = {
    "agreements": "import_agreements",
    "time_entries": "import_time_entries",
    "payments": "import_payments",
}
CASES = [
    # (import, line, column, cell, expected message)
    ("time_entries", 2, "Hours", HUGE, TOO_LONG),
    ("time_entries", 3, "Hours", "0." + HUGE, TOO_LONG.replace("100000", "100002")),
    ("payments", 2, "Amount", HUGE, TOO_LONG),
    ("agreements", 2, "Hourly Rate", HUGE, TOO_LONG),
    ("agreements", 2, "Tax Rate", HUGE, TOO_LONG),
    ("agreements", 2, "Payment Terms", HUGE, TOO_LONG),
    ("agreements", 2, "Billing Increment", HUGE, TOO_LONG),
    ("agreements", 2, "Not To Exceed Hours", HUGE, TOO_LONG),
    ("agreements", 2, "Role Rates", f"Engineer={HUGE}", f"rate for 'Engineer' {TOO_LONG}"),
    ("agreements", 3, "Amount", HUGE, TOO_LONG),
    ("agreements", 3, "Milestones", f"Kickoff:{HUGE}", f"percent of 'Kickoff' {TOO_LONG}"),
    ("agreements", 4, "Hours Sold", HUGE, TOO_LONG),
]


def huge_file(kind: str, line: int, column: str, cell: str) -> bytes:
    rows = [dict(r) for r in corpus.valid_rows(kind)]
    rows[line - 2][column] = cell
    return corpus.to_csv(rows, corpus.COLUMNS[kind])


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "line", "column", "cell", "message"), CASES)
def test_huge_number_is_a_row_error_in_its_column(kind, line, column, cell, message, tmp_path):
    AccountFactory(external_id=corpus.PAYMENT_ACCOUNT, name="Reliability Account")
    path = tmp_path / "huge.csv"
    path.write_bytes(huge_file(kind, line, column, cell))
    before = snapshot()
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command(COMMANDS[kind], str(path), stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert err.getvalue().splitlines() == [f"line {line}: {column}: {message}"]
    assert snapshot() == before


@pytest.mark.django_db
def test_huge_hours_in_a_real_process_prints_no_traceback(tmp_path):
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    path = tmp_path / "entries.csv"
    path.write_bytes(huge_file("time_entries", 2, "Hours", HUGE))
    result = subprocess.run(
        [sys.executable, "manage.py", "import_time_entries", str(path)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "DEBUG": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"line 2: Hours: {TOO_LONG}"]
    assert "Traceback" not in result.stdout
