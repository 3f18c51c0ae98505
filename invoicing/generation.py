"""Pure invoice pricing (SPEC section 3): agreement terms and time entries in, lines out.

Nothing here touches the database. `invoicing.services` loads frozen inputs, calls
`price_invoice`, and writes what comes back; the review screen's preview calls the same function
on the same inputs, so the preview equals the real run.

Units: durations arrive as integer milliseconds (TimeEntry.duration_ms); every entry is rounded
UP to its agreement's billing increment here, once (`rounded_minutes`), and everything after that
works in whole minutes. Money is Decimal, rounded by `core.money.round_money` only.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from agreements.pricing import amount_for, rate_for, role_key, round_up_minutes
from core.money import ZERO, round_money
from timesheets.ordering import entry_key

SIXTY = Decimal(60)
HUNDRED = Decimal(100)
TAX_RATE_PLACES = Decimal("0.001")  # InvoiceLine.tax_rate has 3 decimal places

TIME_AND_MATERIALS = "time_and_materials"
PREPAID_HOURS = "prepaid_hours"
FIXED_FEE = "fixed_fee"

# Line kinds (InvoiceLine.Kind values) and their order inside one agreement.
TIME = "time"
BLOCK = "block"
MILESTONE = "milestone"
ADJUSTMENT = "adjustment"
_KIND_RANK = {BLOCK: 0, MILESTONE: 1, TIME: 2, ADJUSTMENT: 3}


@dataclass(frozen=True)
class RoleRateTerm:
    role_key: str  # lower-cased, trimmed
    role: str  # as written in the CRM, printed on the line
    rate: Decimal


@dataclass(frozen=True)
class MilestoneTerm:
    milestone_id: int
    position: int
    name: str
    percent: Decimal


@dataclass(frozen=True)
class AgreementTerms:
    agreement_id: int
    external_id: str
    project_code: str
    agreement_type: str
    hourly_rate: Decimal | None = None
    role_rates: tuple[RoleRateTerm, ...] = ()
    billing_increment: int = 15
    payment_terms: int = 30
    tax_rate: Decimal = Decimal("0")
    hours_sold: Decimal | None = None
    amount: Decimal | None = None
    parent_id: int | None = None
    # Prepaid Hours: bill the block line on this invoice, and the block minutes already drawn by
    # entries that are not on this invoice (earlier runs, other drafts).
    bill_block: bool = False
    block_drawn_minutes: int = 0
    # Fixed Fee: every milestone of the agreement (the last one takes the remainder).
    milestones: tuple[MilestoneTerm, ...] = ()
    # What the customer reads (Agreement Name, else Project Code) and the EN 16931 VAT category.
    name: str = ""
    tax_category: str = ""
    tax_exemption_reason: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.project_code

    @property
    def vat_category(self) -> str:
        return self.tax_category or ("S" if self.tax_rate > 0 else "Z")

    def rate_for(self, role: str) -> tuple[str, Decimal] | None:
        """The rate lookup rule (`agreements.pricing.rate_for`) on these terms."""
        return rate_for(role, self.role_rates, self.hourly_rate)

    @property
    def block_minutes(self) -> int:
        """Block size in whole minutes (a fraction of a minute sold is not drawable)."""
        if self.hours_sold is None or self.hours_sold <= 0:
            return 0
        return int(self.hours_sold * SIXTY)


@dataclass(frozen=True)
class EntryIn:
    entry_id: int  # database id
    external_id: str
    date: dt.date
    agreement_id: int
    role: str
    duration_ms: int
    external_number: int | None = None


@dataclass(frozen=True)
class LineOut:
    key: tuple  # identifies the line across re-runs: (kind, agreement_id, role_key, rate, milestone_id)
    kind: str
    agreement_id: int | None
    agreement_external_id: str
    description: str
    role: str
    minutes: int | None
    hours: Decimal | None
    rate: Decimal | None
    amount: Decimal
    tax_rate: Decimal
    entry_ids: tuple[int, ...] = ()
    milestone_id: int | None = None
    tax_category: str = ""
    tax_exemption_reason: str = ""
    service_start: dt.date | None = None
    service_end: dt.date | None = None


@dataclass(frozen=True)
class EntryClaim:
    entry_id: int
    agreement_id: int
    rounded_minutes: int
    block_minutes: int
    billed_minutes: int
    line_key: tuple | None  # None: wholly drawn from a prepaid block, on no line


@dataclass(frozen=True)
class TaxRow:
    rate: Decimal
    base: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Totals:
    net: Decimal
    taxes: tuple[TaxRow, ...]
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class AmountLine:
    """Any line for totals: generated or a manual adjustment."""

    amount: Decimal
    tax_rate: Decimal


@dataclass(frozen=True)
class PricedInvoice:
    lines: tuple[LineOut, ...]
    claims: tuple[EntryClaim, ...]
    milestone_ids: tuple[int, ...]
    block_agreement_ids: tuple[int, ...]
    totals: Totals
    invoice_date: dt.date
    due_date: dt.date
    skipped_entry_ids: tuple[int, ...] = field(default=())  # no rate applies: left unbilled


def hours_from_minutes(minutes: int) -> Decimal:
    return round_money(Decimal(minutes) / SIXTY)


def sort_entries(entries: Iterable[EntryIn]) -> list[EntryIn]:
    """(Date, Entry ID) order of SPEC 5 (timesheets.ordering, the order the SQL uses too)."""
    return sorted(
        entries, key=lambda e: (*entry_key(e.date, e.external_id, e.external_number), e.entry_id)
    )


def milestone_amounts(amount: Decimal, milestones: Sequence[MilestoneTerm]) -> dict[int, Decimal]:
    """milestone_id -> amount; each round(Amount x percent / 100), the last (highest position)
    takes the remainder so they sum to Amount exactly."""
    ordered = sorted(milestones, key=lambda m: m.position)
    result: dict[int, Decimal] = {}
    running = ZERO
    for i, m in enumerate(ordered):
        if i == len(ordered) - 1:
            result[m.milestone_id] = round_money(amount - running)
        else:
            value = round_money(amount * m.percent / HUNDRED)
            result[m.milestone_id] = value
            running += value
    return result


def compute_totals(lines: Iterable[AmountLine | LineOut]) -> Totals:
    """Tax per rate: round(sum of line amounts at that rate x rate / 100). Total = net + tax."""
    bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    net = ZERO
    for line in lines:
        net += line.amount
        bases[Decimal(line.tax_rate).quantize(TAX_RATE_PLACES)] += line.amount
    taxes = tuple(
        TaxRow(rate=rate, base=base, tax=round_money(base * rate / HUNDRED))
        for rate, base in sorted(bases.items())
    )
    tax = sum((t.tax for t in taxes), ZERO)
    net = round_money(net)
    return Totals(net=net, taxes=taxes, tax=tax, total=net + tax)


def _time_description(terms: AgreementTerms, role: str, overage: bool) -> str:
    what = role or "Professional services"
    if overage:
        what = f"{what}, beyond the prepaid block"
    return f"{terms.display_name}: {what}"


def _line_sort_key(line: LineOut, positions: Mapping[int, int]) -> tuple:
    line_role = line.key[2] if line.kind == TIME else ""
    rate = line.rate if line.rate is not None else ZERO
    return (
        line.agreement_external_id,
        _KIND_RANK[line.kind],
        positions.get(line.milestone_id or 0, 0),
        line_role,
        rate,
    )


@dataclass
class _TimeGroup:
    """One time line being summed: its terms, role and rate, and the entries on it."""

    agreement: AgreementTerms
    role: str
    rate: Decimal
    overage: bool
    key: tuple = ()
    minutes: int = 0
    entry_ids: list[int] = field(default_factory=list)
    dates: list[dt.date] = field(default_factory=list)


def _time_group(
    groups: dict[tuple, _TimeGroup], agreement: AgreementTerms, entry_role: str
) -> _TimeGroup | None:
    """The time line an entry of this role goes on under `agreement` (created in `groups` on
    first use), or None when no rate applies."""
    priced = agreement.rate_for(entry_role)
    if priced is None:
        return None
    role, rate = priced
    key = (TIME, agreement.agreement_id, role_key(role), rate, None)
    overage = agreement.agreement_type == PREPAID_HOURS
    return groups.setdefault(key, _TimeGroup(agreement, role, rate, overage, key=key))


def _claim_entries(
    terms: Mapping[int, AgreementTerms], entries: Iterable[EntryIn]
) -> tuple[list[EntryClaim], list[int], dict[tuple, _TimeGroup]]:
    """Each entry in (Date, Entry ID) order, rounded up, drawn from its prepaid block while the
    block lasts (the order decides which entries the block covers), the rest summed per time
    line. Returns the claims, the entries with no rate (skipped) and the time lines' groups."""
    groups: dict[tuple, _TimeGroup] = {}
    claims: list[EntryClaim] = []
    skipped: list[int] = []
    block_left = {
        a.agreement_id: max(a.block_minutes - a.block_drawn_minutes, 0)
        for a in terms.values()
        if a.agreement_type == PREPAID_HOURS
    }
    # The rate lookup depends on the agreement and the entry's role only: done once per pair
    # (an invoice has thousands of entries and a handful of roles), not once per entry.
    lines_of: dict[tuple[int, str], _TimeGroup | None] = {}
    for entry in sort_entries(entries):
        agreement = terms[entry.agreement_id]
        rounded = round_up_minutes(entry.duration_ms, agreement.billing_increment)
        from_block = 0
        if agreement.agreement_type == PREPAID_HOURS:
            from_block = min(rounded, block_left[agreement.agreement_id])
        billed = rounded - from_block
        key: tuple | None = None
        if billed:
            pair = (agreement.agreement_id, entry.role)
            if pair in lines_of:
                group = lines_of[pair]
            else:
                group = lines_of[pair] = _time_group(groups, agreement, entry.role)
            if group is None:
                skipped.append(entry.entry_id)  # MISSING_RATE: reconciliation flags it
                continue
            key = group.key
            group.minutes += billed
            group.entry_ids.append(entry.entry_id)
            group.dates.append(entry.date)
        if from_block:
            block_left[agreement.agreement_id] -= from_block
        claims.append(
            EntryClaim(
                entry_id=entry.entry_id,
                agreement_id=agreement.agreement_id,
                rounded_minutes=rounded,
                block_minutes=from_block,
                billed_minutes=billed,
                line_key=key,
            )
        )
    return claims, skipped, groups


def _time_line(key: tuple, group: _TimeGroup) -> LineOut:
    agreement, minutes = group.agreement, group.minutes
    return LineOut(
        key=key,
        kind=TIME,
        agreement_id=agreement.agreement_id,
        agreement_external_id=agreement.external_id,
        description=_time_description(agreement, group.role, group.overage),
        role=group.role,
        minutes=minutes,
        hours=hours_from_minutes(minutes),
        rate=group.rate,
        amount=amount_for(minutes, group.rate),
        tax_rate=agreement.tax_rate,
        entry_ids=tuple(group.entry_ids),
        tax_category=agreement.vat_category,
        tax_exemption_reason=agreement.tax_exemption_reason,
        service_start=min(group.dates),
        service_end=max(group.dates),
    )


def _fixed_line(
    kind: str,
    agreement: AgreementTerms,
    description: str,
    amount: Decimal,
    milestone_id: int | None = None,
) -> LineOut:
    """A block or milestone line: an amount, no minutes, hours or rate."""
    return LineOut(
        key=(kind, agreement.agreement_id, "", None, milestone_id),
        kind=kind,
        agreement_id=agreement.agreement_id,
        agreement_external_id=agreement.external_id,
        description=description,
        role="",
        minutes=None,
        hours=None,
        rate=None,
        amount=amount,
        tax_rate=agreement.tax_rate,
        milestone_id=milestone_id,
        tax_category=agreement.vat_category,
        tax_exemption_reason=agreement.tax_exemption_reason,
    )


def _block_lines(terms: Mapping[int, AgreementTerms]) -> list[LineOut]:
    """The prepaid block line of every Prepaid Hours agreement whose block this invoice bills."""
    lines = []
    for agreement in terms.values():
        if agreement.agreement_type == PREPAID_HOURS and agreement.bill_block:
            if agreement.amount is None:
                raise ValueError(f"Prepaid Hours agreement {agreement.external_id} has no Amount")
            sold = agreement.hours_sold if agreement.hours_sold is not None else ZERO
            what = f"{agreement.display_name}: prepaid block of {sold.normalize():f} hours"
            lines.append(_fixed_line(BLOCK, agreement, what, round_money(agreement.amount)))
    return lines


def _milestone_lines(
    terms: Mapping[int, AgreementTerms], milestone_ids: Iterable[int]
) -> tuple[list[LineOut], dict[int, int]]:
    """The lines of the due milestones, and each one's position (for the line order)."""
    wanted = set(milestone_ids)
    positions: dict[int, int] = {}
    lines = []
    for agreement in terms.values():
        if agreement.agreement_type != FIXED_FEE or not agreement.milestones:
            continue
        due = [m for m in agreement.milestones if m.milestone_id in wanted]
        if not due:
            continue
        if agreement.amount is None:
            raise ValueError(f"Fixed Fee agreement {agreement.external_id} has no Amount")
        amounts = milestone_amounts(agreement.amount, agreement.milestones)
        for m in due:
            positions[m.milestone_id] = m.position
            wanted.discard(m.milestone_id)
            what = f"{agreement.display_name}: milestone {m.name} ({m.percent.normalize():f}%)"
            amount = amounts[m.milestone_id]
            lines.append(_fixed_line(MILESTONE, agreement, what, amount, m.milestone_id))
    if wanted:
        raise ValueError(f"milestones without terms: {sorted(wanted)}")
    return lines, positions


def price_invoice(
    *,
    period_end: dt.date,
    terms: Mapping[int, AgreementTerms],
    entries: Iterable[EntryIn],
    milestone_ids: Iterable[int] = (),
    extra_lines: Iterable[AmountLine] = (),
) -> PricedInvoice:
    """Price one invoice (one billing group) for the period ending `period_end`.

    `entries` are every entry this invoice bills (already claimed by its draft plus the newly
    eligible ones); `terms` has every agreement they or the milestones belong to, with
    `bill_block` set where the prepaid block goes on this invoice; `milestone_ids` are the
    milestones due on it; `extra_lines` are kept manual adjustment lines (for the totals only).
    """
    claims, skipped, groups = _claim_entries(terms, entries)
    lines = [_time_line(key, group) for key, group in groups.items()]
    blocks = _block_lines(terms)
    milestones, positions = _milestone_lines(terms, milestone_ids)
    lines += blocks + milestones
    lines.sort(key=lambda line: _line_sort_key(line, positions))
    on_invoice = {line.agreement_id for line in lines}
    terms_on = [terms[a] for a in on_invoice if a is not None]
    due_days = min((a.payment_terms for a in terms_on), default=30)
    totals = compute_totals([*lines, *extra_lines])
    return PricedInvoice(
        lines=tuple(lines),
        claims=tuple(claims),
        milestone_ids=tuple(sorted(positions)),
        block_agreement_ids=tuple(
            sorted(line.agreement_id for line in blocks if line.agreement_id is not None)
        ),
        totals=totals,
        invoice_date=period_end,
        due_date=period_end + dt.timedelta(days=due_days),
        skipped_entry_ids=tuple(skipped),
    )
