"""Builders for import files and a snapshot of everything an import may write."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager

from django.db import transaction

from agreements.importing import COLUMNS as AGREEMENT_COLUMNS
from agreements.models import Account, Agreement, Milestone, RoleRate
from timesheets.importing import COLUMNS as ENTRY_COLUMNS
from timesheets.models import Employee, Flag, TimeEntry


def csv_bytes(header, rows, *, line_end="\n", bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(c, "") for c in header] if isinstance(row, dict) else row)
    data = out.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def agreement(**values) -> dict[str, str]:
    row = {
        "Agreement ID": "AGR-1",
        "Account ID": "ACC-1",
        "Account Name": "Acme Ltd",
        "Billing Email": "ap@acme.example",
        "Project Code": "PRJ-1",
        "Agreement Type": "Time and Materials",
        "Stage": "Signed",
        "Start Date": "2026-01-01",
        "Hourly Rate": "150",
    }
    row.update(values)
    return row


def agreements_csv(*rows, **kw) -> bytes:
    return csv_bytes(AGREEMENT_COLUMNS, rows, **kw)


def entry(**values) -> dict[str, str]:
    row = {
        "Entry ID": "1001",
        "Date": "2026-01-15",
        "Employee ID": "E1",
        "Employee Name": "Ann Smith",
        "Role": "Engineer",
        "Project Code": "PRJ-1",
        "Task": "Build",
        "Hours": "1.5",
        "Billable": "yes",
        "Approved": "yes",
        "Notes": "",
    }
    row.update(values)
    return row


def entries_csv(*rows, **kw) -> bytes:
    return csv_bytes(ENTRY_COLUMNS, rows, **kw)


def snapshot() -> dict[str, list]:
    """Every row an import may touch, plus history counts: equal snapshots = nothing changed."""
    return {
        "accounts": list(Account.objects.order_by("pk").values()),
        "agreements": list(Agreement.objects.order_by("pk").values()),
        "role_rates": list(RoleRate.objects.order_by("pk").values()),
        "milestones": list(Milestone.objects.order_by("pk").values()),
        "employees": list(Employee.objects.order_by("pk").values()),
        "entries": list(TimeEntry.objects.order_by("pk").values()),
        "flags": list(Flag.objects.order_by("pk").values()),
        "history": [
            Account.history.count(),
            Agreement.history.count(),
            RoleRate.history.count(),
            Milestone.history.count(),
            Employee.history.count(),
            TimeEntry.history.count(),
            Flag.history.count(),
        ],
    }


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Run a block in a savepoint that is always rolled back (one Hypothesis example)."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass
