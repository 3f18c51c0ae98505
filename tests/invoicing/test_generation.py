"""Pure pricing (invoicing.generation): no database, exact amounts, and Hypothesis properties."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing import generation as gen

END = dt.date(2026, 1, 31)
D = Decimal
HOUR_MS = 3_600_000
MIN_MS = 60_000


def tm(agreement_id=1, external_id="AGR-1", **kw) -> gen.AgreementTerms:
    kw.setdefault("hourly_rate", D("150.00"))
    return gen.AgreementTerms(
        agreement_id=agreement_id,
        external_id=external_id,
        project_code=f"P{agreement_id}",
        agreement_type=gen.TIME_AND_MATERIALS,
        **kw,
    )


def entry(
    entry_id,
    minutes=60,
    *,
    agreement_id=1,
    role="Engineer",
    date=dt.date(2026, 1, 10),
    external_id=None,
    ms=None,
) -> gen.EntryIn:
    ext = external_id if external_id is not None else str(entry_id)
    return gen.EntryIn(
        entry_id=entry_id,
        external_id=ext,
        date=date,
        agreement_id=agreement_id,
        role=role,
        duration_ms=ms if ms is not None else minutes * MIN_MS,
        external_number=int(ext) if ext.isdigit() else None,
    )


def price(terms, entries, **kw):
    return gen.price_invoice(
        period_end=END, terms={t.agreement_id: t for t in terms}, entries=entries, **kw
    )


# --- rounding ---------------------------------------------------------------------------------

ROUNDED_61 = {
    1: 61,
    2: 62,
    3: 63,
    4: 64,
    5: 65,
    6: 66,
    10: 70,
    12: 72,
    15: 75,
    20: 80,
    30: 90,
    60: 120,
}
AMOUNT_61_AT_150 = {
    1: "152.50",
    2: "155.00",
    3: "157.50",
    4: "160.00",
    5: "162.50",
    6: "165.00",
    10: "175.00",
    12: "180.00",
    15: "187.50",
    20: "200.00",
    30: "225.00",
    60: "300.00",
}


@pytest.mark.parametrize("increment", sorted(ROUNDED_61))
def test_each_entry_rounds_up_to_every_allowed_increment(increment):
    assert gen.round_up_minutes(61 * MIN_MS, increment) == ROUNDED_61[increment]
    assert gen.round_up_minutes(1, increment) == increment  # one millisecond bills one increment
    assert gen.round_up_minutes(60 * MIN_MS, increment) == 60  # an exact multiple stays
    result = price([tm(billing_increment=increment)], [entry(1, 61)])
    (line,) = result.lines
    assert line.minutes == ROUNDED_61[increment]
    assert line.amount == D(AMOUNT_61_AT_150[increment])
    assert line.hours == (D(ROUNDED_61[increment]) / 60).quantize(D("0.01"))


def test_rounding_is_per_entry_not_per_line():
    # Two 20-minute entries at 15: 30 + 30 = 60 minutes (not 40 rounded to 45).
    result = price([tm()], [entry(1, 20), entry(2, 20)])
    assert [(x.minutes, x.hours, x.amount) for x in result.lines] == [(60, D("1.00"), D("150.00"))]


def test_h_mm_ss_durations_round_from_milliseconds():
    # 1:00:01 at increment 1 is 61 minutes; at 60 it is two hours.
    ms = HOUR_MS + 1000
    assert price([tm(billing_increment=1)], [entry(1, ms=ms)]).lines[0].minutes == 61
    assert price([tm(billing_increment=60)], [entry(1, ms=ms)]).lines[0].minutes == 120


def test_amount_rounds_half_up_once_per_line():
    # 1 minute at 0.30/h = 0.005 -> 0.01 (half up); 7 minutes at 175.55 = 20.4808.. -> 20.48.
    assert price([tm(hourly_rate=D("0.30"), billing_increment=1)], [entry(1, 1)]).lines[
        0
    ].amount == D("0.01")
    assert price([tm(hourly_rate=D("175.55"), billing_increment=1)], [entry(1, 7)]).lines[
        0
    ].amount == D("20.48")
    # Three entries of 7 min at 175.55 on one line: round(21 x 175.55 / 60) = 61.44, not 3 x 20.48.
    three = price(
        [tm(hourly_rate=D("175.55"), billing_increment=1)], [entry(i, 7) for i in (1, 2, 3)]
    )
    assert three.lines[0].amount == D("61.44")


# --- rates and lines ---------------------------------------------------------------------------


def test_rate_card_matches_role_case_insensitively_and_default_rate_shares_a_line():
    card = (
        gen.RoleRateTerm("project manager", "Project Manager", D("175.00")),
        gen.RoleRateTerm("engineer", "Engineer", D("160.00")),
    )
    result = price(
        [tm(role_rates=card, hourly_rate=D("120.00"))],
        [
            entry(1, 60, role="  project MANAGER "),
            entry(2, 30, role="Project Manager"),
            entry(3, 45, role="ENGINEER"),
            entry(4, 60, role="Designer"),  # not on the card: default rate
            entry(5, 15, role=""),  # no role: default rate, same line as the designer
        ],
    )
    got = [(x.role, x.minutes, x.hours, x.rate, x.amount, x.entry_ids) for x in result.lines]
    assert got == [
        ("", 75, D("1.25"), D("120.00"), D("150.00"), (4, 5)),
        ("Engineer", 45, D("0.75"), D("160.00"), D("120.00"), (3,)),
        ("Project Manager", 90, D("1.50"), D("175.00"), D("262.50"), (1, 2)),
    ]
    assert result.totals.net == D("532.50")


def test_entry_without_any_rate_is_left_unbilled():
    card = (gen.RoleRateTerm("engineer", "Engineer", D("160.00")),)
    result = price(
        [tm(role_rates=card, hourly_rate=None)], [entry(1, 60), entry(2, 60, role="Chef")]
    )
    assert result.skipped_entry_ids == (2,)
    assert [c.entry_id for c in result.claims] == [1]


def test_lines_are_ordered_by_agreement_id_then_role():
    card = (
        gen.RoleRateTerm("zeta", "Zeta", D("10.00")),
        gen.RoleRateTerm("alpha", "Alpha", D("20.00")),
    )
    result = price(
        [tm(2, "AGR-2", role_rates=card), tm(1, "AGR-10", role_rates=card)],
        [
            entry(1, 60, agreement_id=1, role="zeta"),
            entry(2, 60, agreement_id=2, role="zeta"),
            entry(3, 60, agreement_id=2, role="alpha"),
            entry(4, 60, agreement_id=1, role="x"),
        ],
    )
    assert [(x.agreement_external_id, x.role) for x in result.lines] == [
        ("AGR-10", ""),
        ("AGR-10", "Zeta"),
        ("AGR-2", "Alpha"),
        ("AGR-2", "Zeta"),
    ]


# --- prepaid hours --------------------------------------------------------------------------------


def prepaid(**kw):
    base = dict(
        agreement_id=7,
        external_id="AGR-7",
        project_code="PRE",
        agreement_type=gen.PREPAID_HOURS,
        hourly_rate=D("200.00"),
        hours_sold=D("10"),
        amount=D("1500.00"),
        billing_increment=15,
    )
    base.update(kw)
    return gen.AgreementTerms(**base)


def test_prepaid_block_drawdown_bills_the_crossing_entry_for_minutes_past_the_balance():
    # 600 block minutes, 480 drawn by earlier runs: 120 left.
    terms = prepaid(bill_block=True, block_drawn_minutes=480)
    day = dt.date(2026, 1, 12)
    entries = [
        entry(13, 45, agreement_id=7, external_id="11", date=dt.date(2026, 1, 13)),  # later: full
        entry(12, 88, agreement_id=7, external_id="10", date=day),  # 90 rounded: crosses
        entry(11, 60, agreement_id=7, external_id="9", date=day),  # "9" < "10" as numbers: first
    ]
    result = price([terms], entries)
    claims = {
        c.entry_id: (c.rounded_minutes, c.block_minutes, c.billed_minutes) for c in result.claims
    }
    assert claims == {11: (60, 60, 0), 12: (90, 60, 30), 13: (45, 0, 45)}
    assert [c.line_key for c in result.claims if c.entry_id == 11] == [None]  # on no line
    got = [(x.kind, x.minutes, x.rate, x.amount, x.entry_ids) for x in result.lines]
    assert got == [
        ("block", None, None, D("1500.00"), ()),
        ("time", 75, D("200.00"), D("250.00"), (12, 13)),
    ]
    assert result.block_agreement_ids == (7,)
    assert result.totals.total == D("1750.00")


def test_prepaid_drawdown_with_mixed_entry_ids_follows_spec_5_order():
    # 120 block minutes left; same day 9, 10, 1a of 60 minutes each: 9 and 10 draw the block
    # down (SPEC 5: whole numbers first, by value), 1a is the overage.
    terms = prepaid(bill_block=False, block_drawn_minutes=480)
    day = dt.date(2026, 1, 12)
    entries = [
        entry(21, 60, agreement_id=7, external_id="1a", date=day),
        entry(22, 60, agreement_id=7, external_id="10", date=day),
        entry(23, 60, agreement_id=7, external_id="9", date=day),
    ]
    assert [e.external_id for e in gen.sort_entries(entries)] == ["9", "10", "1a"]
    result = price([terms], entries)
    claims = {c.entry_id: (c.block_minutes, c.billed_minutes) for c in result.claims}
    assert claims == {23: (60, 0), 22: (60, 0), 21: (0, 60)}
    assert [(x.minutes, x.amount, x.entry_ids) for x in result.lines] == [(60, D("200.00"), (21,))]


def test_prepaid_entries_wholly_inside_the_block_make_no_line():
    result = price([prepaid(bill_block=False)], [entry(1, 60, agreement_id=7)])
    assert result.lines == ()
    assert [(c.block_minutes, c.billed_minutes, c.line_key) for c in result.claims] == [
        (60, 0, None)
    ]


def test_prepaid_block_already_used_up_bills_everything_as_overage():
    result = price([prepaid(block_drawn_minutes=600)], [entry(1, 60, agreement_id=7)])
    assert [(x.minutes, x.amount) for x in result.lines] == [(60, D("200.00"))]


# --- fixed fee ----------------------------------------------------------------------------------


def fixed(milestones, amount="9999.99"):
    return gen.AgreementTerms(
        agreement_id=3,
        external_id="AGR-3",
        project_code="FIX",
        agreement_type=gen.FIXED_FEE,
        amount=D(amount),
        milestones=tuple(milestones),
    )


THIRDS = [
    gen.MilestoneTerm(31, 1, "Kick-off", D("33")),
    gen.MilestoneTerm(32, 2, "Build", D("33")),
    gen.MilestoneTerm(33, 3, "Go-live", D("34")),
]


def test_milestones_33_33_34_of_9999_99_last_takes_the_remainder():
    assert gen.milestone_amounts(D("9999.99"), THIRDS) == {
        31: D("3300.00"),
        32: D("3300.00"),
        33: D("3399.99"),
    }
    result = price([fixed(THIRDS)], [], milestone_ids=[33, 31, 32])
    assert [(x.milestone_id, x.amount) for x in result.lines] == [
        (31, D("3300.00")),
        (32, D("3300.00")),
        (33, D("3399.99")),
    ]
    assert result.totals.net == D("9999.99")


def test_only_due_milestones_are_billed_with_their_own_amount():
    first_two = price([fixed(THIRDS)], [], milestone_ids=[31, 32])
    last = price([fixed(THIRDS)], [], milestone_ids=[33])
    assert first_two.totals.net + last.totals.net == D("9999.99")
    assert last.lines[0].amount == D("3399.99")
    assert last.lines[0].description == "FIX: milestone Go-live (34%)"


# --- tax, dates ---------------------------------------------------------------------------------


def test_several_tax_rates_on_one_invoice_tax_per_rate():
    terms = [
        tm(1, "AGR-1", hourly_rate=D("100.00"), tax_rate=D("8.875"), payment_terms=30),
        tm(2, "AGR-2", hourly_rate=D("133.33"), tax_rate=D("20"), payment_terms=14),
        tm(3, "AGR-3", hourly_rate=D("50.00"), tax_rate=D("0"), payment_terms=45),
    ]
    result = price(
        terms,
        [
            entry(1, 600, agreement_id=1),
            entry(2, 150, agreement_id=2),
            entry(3, 60, agreement_id=3),
        ],
    )
    assert [x.amount for x in result.lines] == [D("1000.00"), D("333.33"), D("50.00")]
    taxes = [(t.rate, t.base, t.tax) for t in result.totals.taxes]
    assert taxes == [
        (D("0.000"), D("50.00"), D("0.00")),
        (D("8.875"), D("1000.00"), D("88.75")),
        (D("20.000"), D("333.33"), D("66.67")),
    ]
    assert result.totals.net == D("1383.33")
    assert result.totals.tax == D("155.42")
    assert result.totals.total == D("1538.75")
    assert result.invoice_date == END
    assert result.due_date == dt.date(2026, 2, 14)  # smallest payment terms: 14 days


def test_tax_is_rounded_per_rate_not_per_line():
    lines = [gen.AmountLine(D("1.00"), D("7.5")), gen.AmountLine(D("1.00"), D("7.500"))]
    totals = gen.compute_totals(lines)
    assert totals.tax == D("0.15")  # per line it would be 0.08 + 0.08 = 0.16
    assert totals.total == D("2.15")


def test_manual_lines_count_in_the_totals():
    result = price([tm()], [entry(1, 60)], extra_lines=[gen.AmountLine(D("-50.00"), D("0"))])
    assert result.totals.net == D("100.00")


def test_entry_id_order_numeric_when_both_are_whole_numbers_else_text():
    day = dt.date(2026, 1, 5)
    ordered = gen.sort_entries(
        [
            entry(1, external_id="10", date=day),
            entry(2, external_id="9", date=day),
            entry(3, external_id="A-1", date=day),
            entry(4, external_id="1", date=dt.date(2026, 1, 6)),
        ]
    )
    assert [e.external_id for e in ordered] == ["9", "10", "A-1", "1"]


# --- properties -------------------------------------------------------------------------------------

INCREMENTS = st.sampled_from([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60])
RATES = st.decimals(min_value=D("0"), max_value=D("999.99"), places=2)


@st.composite
def invoices(draw):
    n_agreements = draw(st.integers(1, 4))
    terms = []
    for a in range(1, n_agreements + 1):
        kind = draw(st.sampled_from([gen.TIME_AND_MATERIALS, gen.PREPAID_HOURS]))
        roles = draw(st.lists(st.sampled_from(["engineer", "pm", "qa"]), unique=True, max_size=2))
        terms.append(
            gen.AgreementTerms(
                agreement_id=a,
                external_id=f"AGR-{a}",
                project_code=f"P{a}",
                agreement_type=kind,
                hourly_rate=draw(st.one_of(st.none(), RATES)),
                role_rates=tuple(gen.RoleRateTerm(r, r.title(), draw(RATES)) for r in roles),
                billing_increment=draw(INCREMENTS),
                tax_rate=draw(st.decimals(min_value=D("0"), max_value=D("25"), places=3)),
                hours_sold=draw(st.decimals(min_value=D("0"), max_value=D("40"), places=2)),
                amount=draw(st.decimals(min_value=D("0"), max_value=D("50000"), places=2)),
                bill_block=draw(st.booleans()),
                block_drawn_minutes=draw(st.integers(0, 3000)),
            )
        )
    entries = [
        gen.EntryIn(
            entry_id=i,
            external_id=str(draw(st.integers(1, 10_000))) + ("" if draw(st.booleans()) else "x"),
            date=dt.date(2026, 1, draw(st.integers(1, 31))),
            agreement_id=draw(st.integers(1, n_agreements)),
            role=draw(st.sampled_from(["Engineer", " PM ", "qa", "Designer", ""])),
            duration_ms=draw(st.integers(1, 24 * HOUR_MS)),
        )
        for i in range(draw(st.integers(0, 40)))
    ]
    return terms, entries


@settings(max_examples=200, deadline=None)
@given(invoices())
def test_property_total_is_lines_plus_tax_and_each_entry_billed_at_most_once(case):
    terms, entries = case
    result = price(terms, entries)
    # total = lines + tax, tax = sum of per-rate taxes
    assert result.totals.net == sum((x.amount for x in result.lines), D("0"))
    assert result.totals.tax == sum((t.tax for t in result.totals.taxes), D("0"))
    assert result.totals.total == result.totals.net + result.totals.tax
    # each entry billed at most once: one claim per entry, on at most one line
    claimed = [c.entry_id for c in result.claims]
    assert len(claimed) == len(set(claimed))
    on_lines = Counter(e for x in result.lines for e in x.entry_ids)
    assert all(n == 1 for n in on_lines.values())
    assert set(claimed) | set(result.skipped_entry_ids) == {e.entry_id for e in entries}
    assert not set(claimed) & set(result.skipped_entry_ids)
    by_key = Counter()
    for c in result.claims:
        assert c.rounded_minutes == c.block_minutes + c.billed_minutes
        assert (c.line_key is None) == (c.billed_minutes == 0)
        if c.line_key:
            by_key[c.line_key] += c.billed_minutes
    assert {x.key: x.minutes for x in result.lines if x.kind == "time"} == dict(by_key)
    # the block never gives more than what is left of it
    for t in terms:
        drawn = sum(c.block_minutes for c in result.claims if c.agreement_id == t.agreement_id)
        assert drawn <= max(t.block_minutes - t.block_drawn_minutes, 0)


@st.composite
def milestone_plans(draw):
    n = draw(st.integers(1, 8))
    cuts = sorted(
        draw(st.lists(st.integers(1, 99_999), min_size=n - 1, max_size=n - 1, unique=True))
    )
    bounds = [0, *cuts, 100_000]
    percents = [D(b - a) / 1000 for a, b in zip(bounds, bounds[1:], strict=False)]  # 3 places
    milestones = [gen.MilestoneTerm(100 + i, i + 1, f"M{i}", p) for i, p in enumerate(percents)]
    amount = draw(st.decimals(min_value=D("0.01"), max_value=D("9999999.99"), places=2))
    return amount, milestones


@settings(max_examples=300, deadline=None)
@given(milestone_plans())
def test_property_milestones_sum_to_the_fee(plan):
    amount, milestones = plan
    amounts = gen.milestone_amounts(amount, milestones)
    assert sum(amounts.values(), D("0")) == amount
    for m in milestones[:-1]:
        assert amounts[m.milestone_id] == (amount * m.percent / 100).quantize(
            D("0.01"), rounding="ROUND_HALF_UP"
        )
    result = price(
        [fixed(milestones, str(amount))], [], milestone_ids=[m.milestone_id for m in milestones]
    )
    assert result.totals.net == amount
