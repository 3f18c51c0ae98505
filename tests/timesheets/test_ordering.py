"""SPEC 5 entry order: the Python, SQL and ORM forms in timesheets.ordering agree, on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import EmployeeFactory
from timesheets import ordering
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2026, 1, 5), dt.date(2026, 1, 6)]
whole = st.from_regex(r"[0-9]{1,30}", fullmatch=True)
mixed = st.from_regex(r"[0-9]{1,3}[a-zA-Z._-][0-9a-zA-Z]{0,3}", fullmatch=True)
anything = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
)
entry_ids = st.lists(st.one_of(whole, mixed, anything), min_size=1, max_size=25, unique=True)


def _write(rows: list[tuple[str, dt.date]]) -> None:
    employee = EmployeeFactory()
    TimeEntry.objects.bulk_create(
        TimeEntry(
            external_id=ext,
            external_number=ordering.entry_number(ext),
            date=day,
            employee=employee,
            project_code="P",
            duration_ms=60_000,
            billable=True,
            approved=True,
        )
        for ext, day in rows
    )


def _three_orders() -> tuple[list[str], list[str], list[str]]:
    rows = TimeEntry.objects.values_list("external_id", "date", "external_number")
    python = [ext for ext, *_ in sorted(rows, key=lambda r: ordering.entry_key(r[1], r[0], r[2]))]
    orm = list(
        TimeEntry.objects.order_by(*ordering.entry_order_by()).values_list("external_id", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.external_id FROM {TimeEntry._meta.db_table} e "
            f"ORDER BY {ordering.entry_order_sql('e')}"
        )
        sql = [r[0] for r in cursor.fetchall()]
    return python, orm, sql


def test_spec_5_example_order_in_all_three_forms():
    _write([(ext, DAYS[0]) for ext in ["A-2", "1a", "10", "9"]])
    python, orm, sql = _three_orders()
    assert python == orm == sql == ["9", "10", "1a", "A-2"]


def test_equal_whole_numbers_fall_back_to_text_and_a_later_date_comes_after():
    _write([("7", DAYS[0]), ("007", DAYS[0]), ("1", DAYS[1]), ("b", DAYS[0])])
    python, orm, sql = _three_orders()
    assert python == orm == sql == ["007", "7", "b", "1"]


def test_entry_number_is_one_to_thirty_ascii_digits():
    assert ordering.entry_number("0042") == 42
    assert ordering.entry_number("9" * 30) == int("9" * 30)
    assert [ordering.entry_number(x) for x in ["9" * 31, "1a", " 1", "٣", "-1", ""]] == [None] * 6


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ids=entry_ids, days=st.lists(st.sampled_from(DAYS), min_size=25, max_size=25))
def test_python_sql_and_orm_orders_agree_on_random_entry_ids(ids, days):
    with transaction.atomic():
        _write(list(zip(ids, days, strict=False)))
        # The SQL test for a whole number agrees with the Python one.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id FROM {TimeEntry._meta.db_table} "
                f"WHERE external_id ~ {ordering.ENTRY_NUMBER_SQL}"
            )
            assert {r[0] for r in cursor.fetchall()} == {
                x for x in ids if ordering.entry_number(x) is not None
            }
        python, orm, sql = _three_orders()
        assert python == orm == sql
        transaction.set_rollback(True)
