"""The agreements API's `active_on` filter is the date half of SPEC 2 matching
(agreements.matching.covers_day_q): Start <= day <= End, End empty = open, any stage."""

from __future__ import annotations

import datetime as dt

import pytest

from agreements.filters import AgreementFilter
from agreements.models import Agreement
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

JAN = dt.date(2026, 1, 1)


def _active_on(day: dt.date) -> set[str]:
    f = AgreementFilter({"active_on": day.isoformat()}, queryset=Agreement.objects.all())
    assert f.is_valid(), f.errors
    return set(f.qs.values_list("external_id", flat=True))


def test_active_on_includes_the_start_and_end_dates_and_open_ended_agreements():
    AgreementFactory(external_id="ENDS", start_date=JAN, end_date=JAN + dt.timedelta(days=9))
    AgreementFactory(external_id="OPEN", start_date=JAN, end_date=None, stage="draft")
    AgreementFactory(external_id="LATER", start_date=JAN + dt.timedelta(days=5), end_date=None)
    assert _active_on(JAN) == {"ENDS", "OPEN"}
    assert _active_on(JAN + dt.timedelta(days=9)) == {"ENDS", "OPEN", "LATER"}
    assert _active_on(JAN + dt.timedelta(days=10)) == {"OPEN", "LATER"}
    assert _active_on(JAN - dt.timedelta(days=1)) == set()
