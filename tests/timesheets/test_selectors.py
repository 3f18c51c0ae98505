"""The KPI tiles' unbilled value is priced by the invoice run's rules (agreements/pricing.py): on
random Time & Materials agreements, rate cards, increments, roles and durations, the tile's figure
per currency equals the sum of the time lines the invoice run would write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.money import ZERO
from invoicing import generation as gen
from invoicing import selectors as invoicing_selectors
from tests.factories import AgreementFactory, RoleRateFactory, TimeEntryFactory
from timesheets.selectors import unbilled_value

JAN = dt.date(2026, 1, 1)
ROLES = ["Engineer", " engineer ", "ARCHITECT", "Tester", "pm"]
rate = st.integers(5_000, 30_000).map(lambda c: Decimal(c) / 100)
agreement = st.fixed_dictionaries(
    {
        "hourly_rate": st.one_of(st.none(), rate),
        "increment": st.sampled_from([1, 6, 10, 15, 30, 60]),
        "currency": st.sampled_from(["USD", "EUR"]),
        "card": st.dictionaries(st.sampled_from(["Engineer", "Architect", "PM"]), rate, max_size=3),
        "entries": st.lists(
            st.tuples(
                st.sampled_from(ROLES),
                st.integers(1, 8 * 3_600_000),
                st.integers(1, 28),
            ),
            min_size=1,
            max_size=6,
        ),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=st.lists(agreement, min_size=1, max_size=3))
def test_kpi_unbilled_value_equals_the_invoice_runs_time_lines(specs):
    with transaction.atomic():
        for i, spec in enumerate(specs):
            a = AgreementFactory(
                project_code=f"KPI-{i}",
                hourly_rate=spec["hourly_rate"],
                billing_increment=spec["increment"],
                currency=spec["currency"],
            )
            for role, card_rate in spec["card"].items():
                RoleRateFactory(agreement=a, role=role, rate=card_rate)
            for role, ms, day in spec["entries"]:
                TimeEntryFactory(
                    project_code=a.project_code,
                    role=role,
                    duration_ms=ms,
                    date=dt.date(2026, 1, day),
                )
        run: dict[str, Decimal] = {}
        for preview in invoicing_selectors.invoice_run_preview(period=JAN):
            for line in preview.priced.lines:
                assert line.kind == gen.TIME
                run[preview.key.currency] = run.get(preview.key.currency, ZERO) + line.amount
        assert unbilled_value(JAN, dt.date(2026, 1, 31)) == dict(sorted(run.items()))
        transaction.set_rollback(True)
