"""SPEC 3 eligibility for billing: the Python form (`eligible_match`) and the SQL form
(`eligible_entry_rows`) in invoicing/selectors/eligibility.py agree, on PostgreSQL, on random
entries, agreements, flags and billings; and on a hand-made world each edge case comes out as
SPEC 3 says."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.models import Agreement
from invoicing.models import EntryBilling, Invoice
from invoicing.selectors import eligibility
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    CreditNoteFactory,
    EmployeeFactory,
    FlagFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    TimeEntryFactory,
)
from tests.world import next_invoice_seq
from timesheets.models import Flag, TimeEntry

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)
LAST_DAY = dt.date(2026, 1, 31)
# Billing states of an entry: no billing row; on a draft; on a final invoice; on a final invoice
# a credit note credits; drawn from a prepaid block (no invoice); put back by a rejected draft
# (its billing rows are deleted: no row, a rejected invoice beside it).
BILLINGS = ["none", "draft", "approved", "paid", "credited", "block", "rejected"]
ENTRY_CODES = sorted(Flag.ENTRY_CODES)

MOSTLY = st.sampled_from([True, True, True, False])
day = st.integers(-10, 45).map(lambda n: START + dt.timedelta(days=n))
code = st.sampled_from(["P1", "P2"])
agreement = st.tuples(
    code,
    st.sampled_from(["signed", "signed", "draft", "cancelled"]),
    st.sampled_from(["time_and_materials", "prepaid_hours", *(t.value for t in Agreement.Type)]),
    day,
    st.none() | st.integers(0, 40),
    st.sampled_from(["USD", "EUR", "GBP"]),
)
entry = st.fixed_dictionaries(
    {
        "code": code,
        "date": day,
        # Biased towards eligible entries, so each exclusion is often the only one in play.
        "billable": MOSTLY,
        "approved": MOSTLY,
        "billing": st.sampled_from(["none", "none", "none", *BILLINGS]),
        "flags": st.dictionaries(
            st.sampled_from(ENTRY_CODES),
            st.sampled_from([s.value for s in Flag.Status]),
            max_size=3,
        ),
    }
)


def _agreement(i, account, c, stage, kind, start, length, currency) -> Agreement:
    return AgreementFactory(
        external_id=f"A{i}",
        account=account,
        project_code=c,
        stage=stage,
        agreement_type=kind,
        start_date=start,
        end_date=start + dt.timedelta(days=length) if length is not None else None,
        currency=currency,
        amount=Decimal("1000.00") if kind != Agreement.Type.TIME_AND_MATERIALS else None,
        hours_sold=Decimal("10") if kind == Agreement.Type.PREPAID_HOURS else None,
    )


def _bill(e: TimeEntry, state: str, agreement: Agreement) -> None:
    if state == "none":
        return
    if state == "rejected":
        InvoiceFactory(status=Invoice.Status.REJECTED)
        return
    if state == "block":
        EntryBilling.objects.create(
            entry=e, agreement=agreement, period=START, rounded_minutes=60, block_minutes=60
        )
        return
    # Built as approval does it: claims on the draft, then one UPDATE to final (the database
    # refuses rows added to a final invoice).
    invoice = InvoiceFactory(status=Invoice.Status.DRAFT)
    line = InvoiceLineFactory(invoice=invoice)
    EntryBilling.objects.create(
        entry=e,
        agreement=agreement,
        invoice=invoice,
        line=line,
        period=START,
        rounded_minutes=60,
        billed_minutes=60,
    )
    if state != "draft":
        n = next_invoice_seq()
        Invoice.objects.filter(pk=invoice.pk).update(
            status="paid" if state == "paid" else "approved",
            number=f"INV-2026-{n:05d}",
            number_year=2026,
            number_seq=n,
        )
    if state == "credited":
        CreditNoteFactory(invoice=invoice, amount=invoice.total)


def _build(agreements, entries) -> None:
    account, employee = AccountFactory(), EmployeeFactory()
    # P1 always has a Signed T&M agreement covering every generated day (made first, so it is
    # also the one the smallest-id rule picks if a random one overlaps it), so most entries
    # match and each exclusion is often the only one in play; P2 has only random agreements.
    base = _agreement(
        "base", account, "P1", "signed", "time_and_materials", START - dt.timedelta(days=30),
        None, "USD",
    )  # fmt: skip
    for i, a in enumerate(agreements):
        _agreement(i, account, *a)
    any_agreement = base  # a billing row names an agreement; which does not matter here
    for i, spec in enumerate(entries):
        e = TimeEntryFactory(
            external_id=str(i),
            employee=employee,
            project_code=spec["code"],
            date=spec["date"],
            billable=spec["billable"],
            approved=spec["approved"],
        )
        for flag_code, status in spec["flags"].items():
            FlagFactory(entry=e, code=flag_code, status=status, reason="test")
        _bill(e, spec["billing"], any_agreement)


def _python(last_day: dt.date = LAST_DAY) -> dict[str, str]:
    agreements = list(Agreement.objects.all())
    names = {a.id: a.external_id for a in agreements}
    out = {}
    for e in TimeEntry.objects.prefetch_related("flags"):
        match = eligibility.eligible_match(
            e,
            billed=EntryBilling.objects.filter(entry=e).exists(),
            flags=e.flags.all(),
            agreements=agreements,
            last_day=last_day,
        )
        if match is not None:
            out[e.external_id] = names[match]
    return out


def _sql(last_day: dt.date = LAST_DAY, entry_ids=None) -> dict[str, str]:
    rows = eligibility.eligible_entry_rows(last_day, entry_ids=entry_ids)
    names = dict(Agreement.objects.values_list("id", "external_id"))
    assert [r.id for r in rows] == sorted(r.id for r in rows)  # one row per entry, by id
    return {r.external_id: names[r.match_id] for r in rows}


def test_edge_cases_each_come_out_as_spec_3_says():
    account = AccountFactory()
    tm = _agreement(0, account, "TM", "signed", "time_and_materials", START, 30, "USD")
    _agreement(1, account, "PP", "signed", "prepaid_hours", START, None, "EUR")
    _agreement(2, account, "FF", "signed", "fixed_fee", START, None, "USD")
    _agreement(3, account, "DR", "draft", "time_and_materials", START, None, "USD")
    employee = EmployeeFactory()
    cases = {
        # name: (code, date, billable, approved, billing, {flag code: status}, eligible?)
        "plain": ("TM", START, True, True, "none", {}, True),
        "last day": ("TM", START + dt.timedelta(days=30), True, True, "none", {}, True),
        "after the period": ("TM", dt.date(2026, 2, 1), True, True, "none", {}, False),
        "outside agreement dates": ("TM", dt.date(2025, 12, 31), True, True, "none", {}, False),
        "non-billable": ("TM", START, False, True, "none", {}, False),
        "unapproved": ("TM", START, True, False, "none", {}, False),
        "on a draft": ("TM", START, True, True, "draft", {}, False),
        "on a final invoice": ("TM", START, True, True, "paid", {}, False),
        "credited": ("TM", START, True, True, "credited", {}, False),
        "drawn from a block": ("PP", START, True, True, "block", {}, False),
        "back from a rejected draft": ("TM", START, True, True, "rejected", {}, True),
        "open blocking flag": ("TM", START, True, True, "none", {"OVER_CAP": "open"}, False),
        "written off": ("TM", START, True, True, "none", {"DUPLICATE_ENTRY": "written_off"}, False),
        "released": ("TM", START, True, True, "none", {"OVER_CAP": "released"}, True),
        "resolved": ("TM", START, True, True, "none", {"MISSING_RATE": "resolved"}, True),
        "open non-blocking flag": (
            "TM",
            START,
            True,
            True,
            "none",
            {"EXCESSIVE_DAILY_HOURS": "open"},
            True,
        ),  # fmt: skip
        "written-off changed after invoicing": (
            "TM",
            START,
            True,
            True,
            "none",
            {"CHANGED_AFTER_INVOICING": "written_off"},
            True,
        ),  # fmt: skip
        "prepaid, other currency": ("PP", START, True, True, "none", {}, True),
        "fixed fee": ("FF", START, True, True, "none", {}, False),
        "draft agreement": ("DR", START, True, True, "none", {}, False),
        "no agreement": ("XX", START, True, True, "none", {}, False),
    }
    for name, (c, d, billable, approved, billing, flags, _) in cases.items():
        e = TimeEntryFactory(
            external_id=name,
            employee=employee,
            project_code=c,
            date=d,
            billable=billable,
            approved=approved,
        )
        for flag_code, status in flags.items():
            FlagFactory(entry=e, code=flag_code, status=status, reason="test")
        _bill(e, billing, tm)
    expected = {name for name, case in cases.items() if case[-1]}
    python, sql = _python(), _sql()
    assert set(python) == expected
    assert sql == python
    assert python["prepaid, other currency"] == "A1"
    # The same rule for an earlier period: nothing dated after its last day.
    early = dt.date(2025, 12, 31)
    assert _sql(early) == _python(early) == {}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    agreements=st.lists(agreement, max_size=4),
    entries=st.lists(entry, min_size=1, max_size=10),
    last_day=st.sampled_from([dt.date(2025, 12, 31), LAST_DAY, dt.date(2026, 2, 28)]),
    subset=st.sets(st.integers(0, 9)),
)
def test_python_and_sql_eligibility_agree_on_random_data(agreements, entries, last_day, subset):
    with transaction.atomic():
        _build(agreements, entries)
        python = _python(last_day)
        assert _sql(last_day) == python
        # The run's re-check of one group's slice: the same rule on those entries only.
        ids = list(TimeEntry.objects.filter(external_id__in=[str(i) for i in subset]).values_list(
            "id", flat=True
        ))  # fmt: skip
        expected = {k: v for k, v in python.items() if int(k) in subset}
        assert _sql(last_day, entry_ids=ids) == expected
        transaction.set_rollback(True)
