"""The KPI tiles' unbilled value is priced by the invoice run's rules (agreements/pricing.py): on
random Time & Materials agreements, rate cards, increments, roles and durations, the tile's figure
per currency equals the sum of the time lines the invoice run would write."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.models import Agreement
from core.money import ZERO
from invoicing import generation as gen
from invoicing import selectors as invoicing_selectors
from tests.factories import AgreementFactory, FlagFactory, RoleRateFactory, TimeEntryFactory
from timesheets import services
from timesheets.models import UnbilledValueSnapshot
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
        assert unbilled_value(dt.date(2026, 1, 31)) == dict(sorted(run.items()))
        transaction.set_rollback(True)


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC))
def test_kpi_unbilled_tile_is_what_the_run_for_the_month_bills(django_capture_on_commit_callbacks):
    """A world with what the run bills beyond this month's Time & Materials entries (an earlier
    month's leftover, prepaid overage) and what it does not (a written-off flag, unapproved time,
    a draft's entries, Fixed Fee time): the tile before the run (as computed and as stored for
    the dashboard) equals the time lines the run writes, and after the run (its refresh of the
    stored value run in-process) nothing is left unbilled. (The tile used to count only this
    month's T&M entries and draft entries as unbilled.)"""
    from invoicing.models import InvoiceLine
    from invoicing.services import invoice_run_generate

    tm = AgreementFactory(
        project_code="TM", hourly_rate=Decimal("100"), start_date=dt.date(2025, 12, 1)
    )
    RoleRateFactory(agreement=tm, role="Engineer", rate=Decimal("200"))
    AgreementFactory(
        project_code="PP",
        agreement_type=Agreement.Type.PREPAID_HOURS,
        hourly_rate=Decimal("90"),
        hours_sold=Decimal("2"),
        amount=Decimal("180"),
        currency="EUR",
        billing_increment=60,
    )
    AgreementFactory(
        project_code="FF", agreement_type=Agreement.Type.FIXED_FEE, hourly_rate=None,
        amount=Decimal("1000"),
    )  # fmt: skip
    for i, (code, hours, day) in enumerate(
        [("TM", 3, 10), ("TM", 1, 12), ("PP", 1, 5), ("PP", 2, 6), ("PP", 1, 20), ("FF", 4, 8)]
    ):
        TimeEntryFactory(
            external_id=str(i + 1), project_code=code, duration_ms=hours * 3_600_000,
            date=dt.date(2026, 1, day),
        )  # fmt: skip
    TimeEntryFactory(external_id="90", project_code="TM", date=dt.date(2025, 12, 30))  # leftover
    TimeEntryFactory(external_id="91", project_code="TM", approved=False)
    written = TimeEntryFactory(external_id="92", project_code="TM")
    FlagFactory(code="DUPLICATE_ENTRY", entry=written, status="written_off", reason="dup")

    tile = unbilled_value(dt.date(2026, 1, 31))
    assert set(tile) == {"USD", "EUR"}  # prepaid overage is billed time too
    stored = services.unbilled_snapshot_refresh(last_day=dt.date(2026, 1, 31))
    assert stored.totals == tile  # what the dashboard shows (UnbilledValueSnapshot)
    with django_capture_on_commit_callbacks(execute=True):  # the run's refreshes, in-process
        invoice_run_generate(period=JAN)
    billed: dict[str, Decimal] = {}
    for line in InvoiceLine.objects.filter(kind=InvoiceLine.Kind.TIME).select_related("invoice"):
        currency = line.invoice.currency
        billed[currency] = billed.get(currency, ZERO) + line.amount
    assert tile == billed
    # USD: 3h + 1h + the December hour as Engineer at 200 = 1000; EUR: 4h less the 2h block
    # = 2h at the default 90 = 180 (the block itself is a block line, not time).
    assert tile == {"EUR": Decimal("180.00"), "USD": Decimal("1000.00")}
    assert unbilled_value(dt.date(2026, 1, 31)) == {}  # now all on the run's drafts
    stored = UnbilledValueSnapshot.objects.get(last_day=dt.date(2026, 1, 31))
    assert stored.totals == {} and stored.as_of > timezone.now() - dt.timedelta(minutes=1)
