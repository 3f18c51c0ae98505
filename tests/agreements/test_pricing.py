"""Increment rounding and the role key (agreements.pricing): Python, SQL and ORM forms agree."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import IntegerField
from django.db.models.functions import Cast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import pricing
from agreements.models import BILLING_INCREMENTS
from tests.factories import EmployeeFactory, TimeEntryFactory
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

durations = st.integers(min_value=1, max_value=24 * 3_600_000)
increments = st.sampled_from(sorted(BILLING_INCREMENTS))
# Letters where Python's str.lower and PostgreSQL's LOWER (C.UTF-8) agree, plus whitespace that
# `role_key` trims (and keeps inside), digits and punctuation.
roles = st.text(
    alphabet=st.sampled_from(
        list("abcxyzABCXYZ0129 -./&") + list("éÉüÜñÑøØßçÇ") + ["\t", "\n", "\r", "\v", "\f"]
    ),
    max_size=12,
)


def test_round_up_examples():
    assert [pricing.round_up_minutes(ms, 15) for ms in (1, 60_000 * 15, 60_000 * 61)] == [
        15,
        15,
        75,
    ]


def test_role_key_trims_whitespace_and_lower_cases_only():
    assert pricing.role_key("\t Senior  Engineer \n") == "senior  engineer"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.tuples(durations, increments, roles), min_size=1, max_size=20))
def test_rounding_and_role_key_agree_in_python_sql_and_orm(rows):
    with transaction.atomic():
        employee = EmployeeFactory()
        # The increment rides in `task` so one row carries everything a form needs.
        ids = [
            TimeEntryFactory(employee=employee, duration_ms=ms, role=role, task=str(inc)).pk
            for ms, inc, role in rows
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {pricing.rounded_minutes_sql('duration_ms', 'CAST(task AS integer)')}, "
                f"{pricing.role_key_sql('role')} FROM {TimeEntry._meta.db_table} ORDER BY id"
            )
            sql = [(r[1], r[2]) for r in cursor.fetchall()]
        orm = [
            (r["rounded"], r["key"])
            for r in TimeEntry.objects.filter(pk__in=ids)
            .order_by("id")
            .annotate(
                rounded=pricing.rounded_minutes_expr("duration_ms", Cast("task", IntegerField())),
                key=pricing.role_key_expr("role"),
            )
            .values("rounded", "key")
        ]
        python = [
            (pricing.round_up_minutes(ms, inc), pricing.role_key(role)) for ms, inc, role in rows
        ]
        assert sql == python
        assert orm == python
        transaction.set_rollback(True)
