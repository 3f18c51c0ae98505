"""Increment rounding and the role key (agreements.pricing): Python, SQL and ORM forms agree."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import IntegerField
from django.db.models.functions import Cast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import pricing
from agreements.models import BILLING_INCREMENTS, Agreement, RoleRate
from tests.factories import AgreementFactory, EmployeeFactory, RoleRateFactory, TimeEntryFactory
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


# Roles that often share a key (so rate cards hit), and random ones (so they often miss).
named_roles = st.one_of(st.sampled_from(["Engineer", " engineer ", "ARCHITECT", "pm", ""]), roles)
rate_card = st.lists(named_roles, max_size=3)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    agreements=st.lists(
        st.tuples(st.none() | st.just(Decimal("150.00")), rate_card), min_size=1, max_size=3
    ),
    entry_roles=st.lists(named_roles, min_size=1, max_size=6),
)
def test_rate_for_and_has_rate_sql_agree(agreements, entry_roles):
    """For every (entry, agreement): `rate_for` finds a rate exactly when `has_rate_sql` holds
    (reconciliation raises MISSING_RATE on the others)."""
    with transaction.atomic():
        for hourly_rate, card in agreements:
            a = AgreementFactory(hourly_rate=hourly_rate)
            for role in {pricing.role_key(r): r for r in card}.values():  # one per key
                RoleRateFactory(agreement=a, role=role)
        employee = EmployeeFactory()
        for role in entry_roles:
            TimeEntryFactory(employee=employee, role=role)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT e.id, a.id, "
                f"{pricing.has_rate_sql('e', 'a', RoleRate._meta.db_table)} "
                f"FROM {TimeEntry._meta.db_table} e CROSS JOIN {Agreement._meta.db_table} a"
            )
            sql = {(e, a): has for e, a, has in cursor.fetchall()}
        python = {
            (e.pk, a.pk): pricing.rate_for(e.role, a.role_rates.all(), a.hourly_rate) is not None
            for e in TimeEntry.objects.all()
            for a in Agreement.objects.prefetch_related("role_rates")
        }
        assert sql == python
        transaction.set_rollback(True)
