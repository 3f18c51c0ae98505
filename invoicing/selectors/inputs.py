"""The pricing inputs of one invoice (`group_inputs`), shared by the run and the preview, so what
the review screen previews is what a run writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from core.money import ZERO
from invoicing import generation as gen
from invoicing.models import (
    Invoice,
)
from invoicing.selectors.common import GroupKey
from invoicing.selectors.grouping import RunSnapshot, run_snapshot


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


def entry_of(
    entry_id: int,
    external_id: str,
    external_number: int | Decimal | None,
    date: dt.date,
    role: str,
    duration_ms: int,
    agreement_id: int,
) -> gen.EntryIn:
    """A pricing input from an entry's columns (in `eligibility.EntryRow`'s order)."""
    return gen.EntryIn(
        entry_id=entry_id,
        external_id=external_id,
        external_number=int(external_number) if external_number is not None else None,
        date=date,
        agreement_id=agreement_id,
        role=role,
        duration_ms=duration_ms,
    )


def _entry_in(row: dict, agreement_field: str) -> gen.EntryIn:
    return entry_of(
        row["id"],
        row["external_id"],
        row["external_number"],
        row["date"],
        row["role"],
        row["duration_ms"],
        row[agreement_field],
    )


ENTRY_FIELDS = ("id", "external_id", "external_number", "date", "role", "duration_ms")


def group_inputs(snapshot: RunSnapshot, key: GroupKey, draft: Invoice | None) -> GroupInputs:
    """Everything `price_invoice` needs for one group (`batch.batch_group_inputs` for one
    group: the run reads a batch of groups at once, in the same fixed number of queries)."""
    from invoicing.selectors.batch import batch_group_inputs  # it builds on this module

    return batch_group_inputs(snapshot, [key], {key: draft})[key]


@dataclass(frozen=True)
class PreviewInvoice:
    key: GroupKey
    draft_id: int | None
    priced: gen.PricedInvoice


def invoice_run_preview(*, period: dt.date) -> list[PreviewInvoice]:
    """What a run for `period` would write now (without first refreshing the flags)."""
    from invoicing.selectors.batch import batch_group_inputs, open_drafts

    snapshot = run_snapshot(period)
    drafts = open_drafts(snapshot.groups, snapshot.period)
    result = []
    for key, inputs in batch_group_inputs(snapshot, snapshot.groups, drafts).items():
        if not inputs.has_news:
            continue
        priced = inputs.price()
        if priced.lines:
            draft = drafts[key]
            result.append(
                PreviewInvoice(key=key, draft_id=draft.pk if draft else None, priced=priced)
            )
    return result


def unbilled_time_value(last_day: dt.date) -> dict[str, Decimal]:
    """Currency -> the time lines (Time & Materials, prepaid overage) a run for the period ending
    `last_day` would bill for the entries eligible now (`eligible_entry_rows`), each group's
    entries priced by the run's pricing as a new invoice; blocks and milestones left out. For
    timesheets' KPI tiles through core.entry_billing, so the tile says what a run would bill."""
    from invoicing.selectors.batch import batch_group_inputs

    snapshot = run_snapshot(last_day)
    keys = [k for k in snapshot.groups if snapshot.entry_ids.get(k)]
    out: dict[str, Decimal] = {}
    for key, inputs in batch_group_inputs(snapshot, keys, dict.fromkeys(keys)).items():
        for line in inputs.price().lines:
            if line.kind == gen.TIME:
                out[key.currency] = out.get(key.currency, ZERO) + line.amount
    return dict(sorted(out.items()))
