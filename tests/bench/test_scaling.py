"""What docs/scaling.md says about today's schema, checked (issue 16)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from agreements.matching import match_sql
from agreements.models import Agreement
from invoicing import selectors
from invoicing.models import EntryBilling
from invoicing.selectors import eligibility
from tests.factories import AgreementFactory, TimeEntryFactory
from timesheets.models import Flag, TimeEntry

pytestmark = pytest.mark.django_db
PLAN = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
APPS = {"core", "agreements", "timesheets", "invoicing", "receivables", "portal", "records"}
ROW = re.compile(r"^\| `(?P<table>[a-z0-9_]+)` \| `(?P<columns>[a-z0-9_, ]+)` \|", re.M)


def unique_constraints() -> set[tuple[str, str]]:
    """(table, columns) of every unique constraint or unique index but primary keys."""
    found = set()
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for model in apps.get_models(include_auto_created=True):
            table = model._meta.db_table
            if model._meta.app_label not in APPS or table not in tables:
                continue
            for info in connection.introspection.get_constraints(cursor, table).values():
                if info["unique"] and not info["primary_key"]:
                    found.add((table, ", ".join(info["columns"])))
    return found


def test_the_plan_lists_every_unique_constraint_on_the_tenant_tables():
    planned = {(m["table"], m["columns"]) for m in ROW.finditer(PLAN.read_text())}
    missing = unique_constraints() - planned
    assert not missing, f"docs/scaling.md step 1 does not say what becomes of {sorted(missing)}"
    assert len(planned) >= 25


PARTITIONED = """
CREATE TEMP TABLE entry_by_month (LIKE timesheets_timeentry INCLUDING DEFAULTS)
PARTITION BY RANGE (date)
"""


def _partitioned_copy() -> None:
    with connection.cursor() as cursor:
        cursor.execute(PARTITIONED)
        for month in range(1, 13):
            start = dt.date(2026, month, 1)
            end = dt.date(2026 + month // 12, month % 12 + 1, 1)
            cursor.execute(
                f"CREATE TEMP TABLE entry_2026_{month:02d} PARTITION OF entry_by_month "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        cursor.execute("INSERT INTO entry_by_month SELECT * FROM timesheets_timeentry")


def _refused(statement: str) -> str:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    except DatabaseError as exc:
        return str(exc)
    return ""


def test_partitioning_time_entries_needs_the_date_in_every_unique_key():
    _partitioned_copy()
    # Today's keys are refused on the partitioned table...
    assert "partition" in _refused("ALTER TABLE entry_by_month ADD UNIQUE (external_id)")
    assert "partition" in _refused("ALTER TABLE entry_by_month ADD PRIMARY KEY (id)")
    # ... with the partition key in them they are accepted (step 2 of the plan).
    assert not _refused("ALTER TABLE entry_by_month ADD PRIMARY KEY (id, date)")
    assert not _refused("ALTER TABLE entry_by_month ADD UNIQUE (external_id, date)")
    # A billing can reference an entry only by (id, date): it needs the entry's date.
    assert _refused(
        "CREATE TEMP TABLE billing_by_entry (entry_id bigint REFERENCES entry_by_month (id))"
    )
    assert not _refused(
        "CREATE TEMP TABLE billing_by_entry (entry_id bigint, entry_date date, "
        "FOREIGN KEY (entry_id, entry_date) REFERENCES entry_by_month (id, date))"
    )


def _eligible(entry_table: str, last_day: dt.date) -> list[tuple]:
    codes, statuses = sorted(Flag.BLOCKING_CODES), sorted(Flag.BLOCKING_STATUSES)
    query = eligibility._ELIGIBLE_SQL.format(
        columns=eligibility._ROW_COLUMNS,
        entry=entry_table,
        agreement=Agreement._meta.db_table,
        billing=EntryBilling._meta.db_table,
        flag=Flag._meta.db_table,
        match=match_sql("e", "a"),
        codes=", ".join(["%s"] * len(codes)),
        statuses=", ".join(["%s"] * len(statuses)),
        only_ids="",
    )
    params = [*selectors.BILLED_TYPES, True, True, last_day, *codes, *statuses]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def test_partitioned_entries_give_the_invoice_run_the_same_eligible_entries():
    agreement = AgreementFactory(project_code="PX", hourly_rate=100)
    AgreementFactory(project_code="PY", start_date=dt.date(2026, 3, 1))
    for i in range(40):
        TimeEntryFactory(
            external_id=str(5000 + i),
            project_code=("PX", "PY", "NOPE")[i % 3],
            date=dt.date(2026, 1 + i % 6, 1 + i % 27),
            approved=i % 7 != 0,
        )
    _partitioned_copy()
    for month_end in (dt.date(2026, 1, 31), dt.date(2026, 3, 31), dt.date(2026, 6, 30)):
        plain = _eligible(TimeEntry._meta.db_table, month_end)
        assert plain == _eligible("entry_by_month", month_end)
        assert plain == [tuple(r) for r in selectors.eligible_entry_rows(month_end)]
    assert any(r[6] == agreement.pk for r in plain)
