"""SPEC 2 matching: the Python, SQL and ORM forms in agreements.matching agree, on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements import matching
from agreements.models import Agreement
from tests.factories import AccountFactory, AgreementFactory, EmployeeFactory, TimeEntryFactory
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)
day = st.integers(0, 40).map(lambda n: START + dt.timedelta(days=n))
code = st.sampled_from(["P1", "P2"])
agreement = st.tuples(
    code, st.sampled_from(["signed", "draft", "cancelled"]), day, st.none() | st.integers(0, 20)
)
entry = st.tuples(code, day)


def _build(agreements, entries) -> None:
    account, employee = AccountFactory(), EmployeeFactory()
    for i, (c, stage, start, length) in enumerate(agreements):
        end = start + dt.timedelta(days=length) if length is not None else None
        AgreementFactory(
            external_id=f"A{i}",
            account=account,
            project_code=c,
            stage=stage,
            start_date=start,
            end_date=end,
        )
    for i, (c, d) in enumerate(entries):
        TimeEntryFactory(external_id=str(i), employee=employee, project_code=c, date=d)


def _python() -> set[tuple[str, str]]:
    agreements = list(Agreement.objects.all())
    return {
        (e.external_id, a.external_id)
        for e in TimeEntry.objects.all()
        for a in agreements
        if matching.matches(
            project_code=a.project_code,
            stage=a.stage,
            start_date=a.start_date,
            end_date=a.end_date,
            entry_code=e.project_code,
            entry_date=e.date,
        )
    }


def _sql() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.external_id, a.external_id FROM {TimeEntry._meta.db_table} e "
            f"JOIN {Agreement._meta.db_table} a ON {matching.match_sql('e', 'a')}"
        )
        return set(cursor.fetchall())


def _orm_from_entries() -> set[tuple[str, str]]:
    pairs = set()
    for e in TimeEntry.objects.all():
        q = matching.matching_agreements_q(project_code=e.project_code, date=e.date)
        pairs |= {
            (e.external_id, a)
            for a in Agreement.objects.filter(q).values_list("external_id", flat=True)
        }
    return pairs


def _orm_outer_ref() -> set[tuple[str, str]]:
    # One match per entry at most when agreements do not overlap; take all via a subquery per
    # agreement instead: every signed agreement's covered entries (OuterRef form).
    pairs = set()
    q = matching.matching_agreements_q(project_code=OuterRef("project_code"), date=OuterRef("date"))
    for a in Agreement.objects.all():
        hit = TimeEntry.objects.annotate(
            hit=Subquery(Agreement.objects.filter(q, pk=a.pk).values("external_id")[:1])
        ).filter(hit__isnull=False)
        pairs |= {(x, a.external_id) for x in hit.values_list("external_id", flat=True)}
    return pairs


def _orm_covered() -> set[tuple[str, str]]:
    pairs = set()
    for a in Agreement.objects.filter(stage="signed"):
        q = matching.covered_entries_q(
            project_code=a.project_code, start_date=a.start_date, end_date=a.end_date
        )
        pairs |= {
            (x, a.external_id)
            for x in TimeEntry.objects.filter(q).values_list("external_id", flat=True)
        }
    return pairs


def test_boundaries_and_stage():
    _build(
        [("P1", "signed", START, 10), ("P1", "draft", START, None), ("P2", "signed", START, None)],
        [
            ("P1", START),
            ("P1", START + dt.timedelta(days=10)),
            ("P1", START + dt.timedelta(days=11)),
            ("P2", START + dt.timedelta(days=40)),
            ("P1", START - dt.timedelta(days=1)),
        ],
    )
    expected = {("0", "A0"), ("1", "A0"), ("3", "A2")}
    assert (
        _python() == _sql() == _orm_from_entries() == _orm_outer_ref() == _orm_covered() == expected
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(agreements=st.lists(agreement, max_size=4), entries=st.lists(entry, max_size=8))
def test_python_sql_and_orm_matching_agree_on_random_data(agreements, entries):
    with transaction.atomic():
        _build(agreements, entries)
        python = _python()
        assert _sql() == python
        assert _orm_from_entries() == python
        assert _orm_outer_ref() == python
        assert _orm_covered() == python
        transaction.set_rollback(True)
