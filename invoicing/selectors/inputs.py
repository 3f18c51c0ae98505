"""The pricing inputs of one invoice (`group_inputs`), shared by the run and the preview, so what
the review screen previews is what a run writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from django.db.models import (
    Sum,
)

from agreements.models import Milestone
from invoicing import generation as gen
from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceLine,
    MilestoneBilling,
)
from invoicing.selectors.common import GroupKey
from invoicing.selectors.eligibility import due_blocks, due_milestones, eligible_entry_rows
from invoicing.selectors.grouping import RunSnapshot, load_terms, run_snapshot


@dataclass
class GroupInputs:
    key: GroupKey
    period: dt.date
    last_day: dt.date
    draft: Invoice | None
    terms: dict[int, gen.AgreementTerms]
    entries: list[gen.EntryIn]
    milestone_ids: list[int]
    extra_lines: list[gen.AmountLine]
    new_entry_ids: set[int] = field(default_factory=set)
    new_milestone_ids: set[int] = field(default_factory=set)
    new_block_ids: set[int] = field(default_factory=set)

    @property
    def has_news(self) -> bool:
        return bool(self.new_entry_ids or self.new_milestone_ids or self.new_block_ids)

    def price(self) -> gen.PricedInvoice:
        return gen.price_invoice(
            period_end=self.last_day,
            terms=self.terms,
            entries=self.entries,
            milestone_ids=self.milestone_ids,
            extra_lines=self.extra_lines,
        )


def open_draft(key: GroupKey, period: dt.date, *, lock: bool = False) -> Invoice | None:
    qs = Invoice.objects.filter(
        account_id=key.account_id,
        currency=key.currency,
        po_number=key.po_number,
        period=period,
        status=Invoice.Status.DRAFT,
    )
    if lock:
        qs = qs.select_for_update()
    return qs.first()


def _entry_in(row: dict, agreement_field: str) -> gen.EntryIn:
    number = row["external_number"]
    return gen.EntryIn(
        entry_id=row["id"],
        external_id=row["external_id"],
        external_number=int(number) if number is not None else None,
        date=row["date"],
        agreement_id=row[agreement_field],
        role=row["role"],
        duration_ms=row["duration_ms"],
    )


ENTRY_FIELDS = ("id", "external_id", "external_number", "date", "role", "duration_ms")


def group_inputs(snapshot: RunSnapshot, key: GroupKey, draft: Invoice | None) -> GroupInputs:
    """Everything `price_invoice` needs for one group: what its open draft already claims plus
    what became billable. The group's slice of the snapshot is re-checked here (the run calls
    this under its lock), so an entry, milestone or block billed or blocked since the snapshot
    is left out. A fixed number of queries whatever the number of entries; a first run with no
    draft and no prepaid agreement needs one or three."""
    period, last_day = snapshot.period, snapshot.last_day
    members = set(snapshot.tree.members.get(key, []))

    new_rows = [
        r
        for r in eligible_entry_rows(last_day, entry_ids=snapshot.entry_ids.get(key, []))
        if r.match_id in members  # an agreement moved to another group since: next run
    ]
    entries = [_entry_in(r._asdict(), "match_id") for r in new_rows]
    new_entry_ids = {r.id for r in new_rows}
    claimed_milestones: list[int] = []
    claimed_blocks: set[int] = set()
    extra: list[gen.AmountLine] = []
    if draft is not None:
        claimed = EntryBilling.objects.filter(invoice=draft).values(
            "agreement_id", *(f"entry__{f}" for f in ENTRY_FIELDS)
        )
        for r in claimed:
            entries.append(
                _entry_in({f: r[f"entry__{f}"] for f in ENTRY_FIELDS} | r, "agreement_id")
            )
        claimed_milestones = list(
            MilestoneBilling.objects.filter(invoice=draft).values_list("milestone_id", flat=True)
        )
        claimed_blocks = set(
            BlockBilling.objects.filter(invoice=draft).values_list("agreement_id", flat=True)
        )
        extra = [
            gen.AmountLine(amount=a, tax_rate=t)
            for a, t in draft.lines.filter(kind=InvoiceLine.Kind.ADJUSTMENT).values_list(
                "amount", "tax_rate"
            )
        ]

    new_milestones: list[tuple[int, int]] = []
    if snapshot.milestone_ids.get(key):
        new_milestones = list(
            due_milestones(last_day)
            .filter(id__in=snapshot.milestone_ids[key], agreement_id__in=members)
            .values_list("id", "agreement_id")
        )
    new_blocks: set[int] = set()
    if snapshot.block_ids.get(key):
        new_blocks = set(
            due_blocks(last_day)
            .filter(id__in=snapshot.block_ids[key])
            .filter(id__in=members)
            .values_list("id", flat=True)
        )

    used = {e.agreement_id for e in entries} | {a for _, a in new_milestones} | new_blocks
    used |= claimed_blocks
    if claimed_milestones:
        used |= set(
            Milestone.objects.filter(id__in=claimed_milestones).values_list(
                "agreement_id", flat=True
            )
        )
    base = {a: snapshot.terms[a] for a in used if a in snapshot.terms}
    missing = used - set(base)
    if missing:  # only agreements a draft claims that nothing new bills
        base |= load_terms(missing)
    # Prepaid drawdown is read here, under the lock, not in the snapshot: a concurrent run of
    # another period may have drawn from the same block since.
    prepaid = {a for a, t in base.items() if t.agreement_type == gen.PREPAID_HOURS}
    drawn: dict[int, int] = {}
    if prepaid:
        drawn_qs = EntryBilling.objects.filter(agreement_id__in=prepaid, block_minutes__gt=0)
        if draft is not None:
            drawn_qs = drawn_qs.exclude(invoice_id=draft.pk)  # null invoice rows stay counted
        drawn = dict(
            drawn_qs.values("agreement_id")
            .annotate(m=Sum("block_minutes"))
            .values_list("agreement_id", "m")
        )
    bill_block = new_blocks | claimed_blocks
    terms = {
        a: replace(t, bill_block=a in bill_block, block_drawn_minutes=int(drawn.get(a) or 0))
        for a, t in base.items()
    }
    milestone_ids = claimed_milestones + [m for m, _ in new_milestones]
    return GroupInputs(
        key=key,
        period=period,
        last_day=last_day,
        draft=draft,
        terms=terms,
        entries=entries,
        milestone_ids=milestone_ids,
        extra_lines=extra,
        new_entry_ids=new_entry_ids,
        new_milestone_ids={m for m, _ in new_milestones},
        new_block_ids=new_blocks,
    )


@dataclass(frozen=True)
class PreviewInvoice:
    key: GroupKey
    draft_id: int | None
    priced: gen.PricedInvoice


def invoice_run_preview(*, period: dt.date) -> list[PreviewInvoice]:
    """What a run for `period` would write now (without first refreshing the flags)."""
    snapshot = run_snapshot(period)
    result = []
    for key in snapshot.groups:
        draft = open_draft(key, snapshot.period)
        inputs = group_inputs(snapshot, key, draft)
        if not inputs.has_news:
            continue
        priced = inputs.price()
        if priced.lines:
            result.append(
                PreviewInvoice(key=key, draft_id=draft.pk if draft else None, priced=priced)
            )
    return result
