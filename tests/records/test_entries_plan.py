"""The time-entry browser stays fast at the firm bench scale (800k entries): its page query is an
index scan that stops after one page, for the first page, a page deep in the table (keyset
cursor), and each indexed filter. EXPLAIN on a table big enough (60,000 entries, analysed) that
a sequential scan would be the planner's choice if no index served the query."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection

from records import entries
from tests.factories import AccountFactory, AgreementFactory, EmployeeFactory

pytestmark = pytest.mark.django_db

ROWS = 60_000
TABLE = "timesheets_timeentry"
ENTRY_INDEXES = {"entry_date_id", "entry_project_date", "entry_employee_date"}


@pytest.fixture
def big_table():
    people = [EmployeeFactory(external_id=f"E{n}", name=f"Person {n}") for n in range(40)]
    acme = AccountFactory(name="Acme Corp")
    AgreementFactory(account=acme, project_code="PRJ-7")
    AgreementFactory(account=acme, project_code="PRJ-8")
    ids = [p.pk for p in people]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {TABLE} (external_id, external_number, date, employee_id, role,
                project_code, task, duration_ms, billable, approved, notes, locked, source,
                created_at, updated_at)
            SELECT n::text, n, DATE '2024-01-01' + (n %% 730), (%s::bigint[])[1 + n %% 40],
                'Engineer', 'PRJ-' || (n %% 200), '', 3600000, n %% 5 <> 0, true, '', false,
                'billable', now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [ids, ROWS],
        )
        cursor.execute(f"ANALYZE {TABLE}")
    return people


def _plan(qs) -> dict[str, Any]:
    text = qs.explain(format="json")
    return json.loads(text)[0]["Plan"]


def _nodes(plan: dict[str, Any]):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _entry_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in _nodes(plan) if n.get("Relation Name") == TABLE]


def _page(data: dict[str, Any], after: entries.Cursor | None = None):
    return entries.page_queryset(entries.filtered_entries(data), after)


CASES = {
    "first page": ({}, None),
    "deep page": ({}, entries.Cursor(dt.date(2024, 3, 1), 30_000)),
    "project": ({"project": "prj-7"}, None),
    "project, deep page": ({"project": "PRJ-7"}, entries.Cursor(dt.date(2024, 6, 1), 10**9)),
    "customer": ({"customer": "acme"}, None),
    "date range": ({"date_from": dt.date(2025, 3, 1), "date_to": dt.date(2025, 3, 31)}, None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_page_query_is_an_index_scan_with_a_limit(big_table, case):
    data, after = CASES[case]
    plan = _plan(_page(data, after))
    _assert_indexed(plan, case)


def _assert_indexed(plan: dict[str, Any], case: str) -> None:
    assert plan["Node Type"] == "Limit", plan
    assert plan["Plan Rows"] <= entries.PAGE_SIZE + 1
    scans = _entry_scans(plan)
    assert scans and all(s["Node Type"] != "Seq Scan" for s in scans), (case, plan)
    used = {n.get("Index Name") for n in _nodes(plan) if "Index" in n["Node Type"]}
    assert {u for u in used if u in ENTRY_INDEXES or u.startswith(TABLE)}, (case, used)
    # Whatever is sorted is a small part of the table (one project's or one month's entries),
    # never all of it: the first page costs what a later one costs.
    sorted_rows = [n["Plan Rows"] for n in _nodes(plan) if n["Node Type"] == "Sort"]
    assert all(rows <= ROWS // 20 for rows in sorted_rows), (case, sorted_rows)


def test_employee_filter_reads_through_an_index(big_table):
    """A filter on one employee is served by an index (entry_employee_date or entry_date_id);
    with sequential scans disabled the plan still needs none on the entries."""
    qs = _page({"employee": "e7"})
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = _plan(qs)
        cursor.execute("SET LOCAL enable_seqscan = on")
    _assert_indexed(plan, "employee, seqscan off")
    _assert_indexed(_plan(qs), "employee")


def test_a_deep_page_is_the_next_rows_of_the_keyset(big_table):
    first = list(_page({}))
    cursor = entries.Cursor(first[entries.PAGE_SIZE - 1].date, first[entries.PAGE_SIZE - 1].pk)
    second = list(_page({}, cursor))
    assert first[entries.PAGE_SIZE] == second[0]
    keys = [(e.date, e.pk) for e in first[: entries.PAGE_SIZE] + second]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
