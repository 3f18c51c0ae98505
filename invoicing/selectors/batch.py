"""Pricing inputs for a batch of billing groups, read in a fixed number of queries whatever the
number of groups in the batch (issue 16). The run calls this under its lock for each batch; the
preview and `group_inputs` call it (the preview for all groups, `group_inputs` for one), so what the review screen previews is
what a run writes.

For each group: what its open draft already claims plus what became billable. The group's slice
of the snapshot is re-checked here, so an entry, milestone or block billed or blocked since the
snapshot is left out, and an agreement that moved to another group since is billed by the next
run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

from django.db.models import Sum

from agreements.models import Milestone
from invoicing import generation as gen
from invoicing.models import BlockBilling, EntryBilling, Invoice, InvoiceLine, MilestoneBilling
from invoicing.selectors.common import GroupKey
from invoicing.selectors.eligibility import due_blocks, due_milestones, eligible_entry_rows
from invoicing.selectors.grouping import RunSnapshot, load_terms
from invoicing.selectors.inputs import ENTRY_FIELDS, GroupInputs, _entry_in, entry_of


def open_drafts(
    keys: Sequence[GroupKey], period, *, lock: bool = False
) -> dict[GroupKey, Invoice | None]:
    """The open draft of each group (one query; `lock` takes their row locks)."""
    qs = Invoice.objects.filter(
        period=period,
        status=Invoice.Status.DRAFT,
        account_id__in=sorted({k.account_id for k in keys}),
    ).order_by("id")
    if lock:
        qs = qs.select_for_update()
    found = {GroupKey(i.account_id, i.currency, i.po_number): i for i in qs}
    return {k: found.get(k) for k in keys}


def _owner(keys: Sequence[GroupKey], ids: Mapping[GroupKey, list[int]]) -> dict[int, GroupKey]:
    return {i: k for k in keys for i in ids.get(k, [])}


class _DraftReads:
    """What the batch's open drafts already hold: claims, milestones, blocks, adjustments."""

    def __init__(self, drafts: Mapping[GroupKey, Invoice | None]) -> None:
        self.key_of = {d.pk: k for k, d in drafts.items() if d is not None}
        self.entries: dict[GroupKey, list[gen.EntryIn]] = defaultdict(list)
        self.milestones: dict[GroupKey, list[int]] = defaultdict(list)
        self.blocks: dict[GroupKey, set[int]] = defaultdict(set)
        self.extra: dict[GroupKey, list[gen.AmountLine]] = defaultdict(list)
        self.milestone_agreements: dict[int, int] = {}
        if not self.key_of:
            return
        ids = sorted(self.key_of)
        claimed = EntryBilling.objects.filter(invoice_id__in=ids).values(
            "invoice_id", "agreement_id", *(f"entry__{f}" for f in ENTRY_FIELDS)
        )
        for r in claimed:
            row = {f: r[f"entry__{f}"] for f in ENTRY_FIELDS} | r
            self.entries[self.key_of[r["invoice_id"]]].append(_entry_in(row, "agreement_id"))
        for inv, m in MilestoneBilling.objects.filter(invoice_id__in=ids).values_list(
            "invoice_id", "milestone_id"
        ):
            self.milestones[self.key_of[inv]].append(m)
        for inv, a in BlockBilling.objects.filter(invoice_id__in=ids).values_list(
            "invoice_id", "agreement_id"
        ):
            self.blocks[self.key_of[inv]].add(a)
        adjustments = InvoiceLine.objects.filter(
            invoice_id__in=ids, kind=InvoiceLine.Kind.ADJUSTMENT
        ).order_by("invoice_id", "position", "id")
        for inv, amount, rate in adjustments.values_list("invoice_id", "amount", "tax_rate"):
            self.extra[self.key_of[inv]].append(gen.AmountLine(amount=amount, tax_rate=rate))
        all_milestones = [m for ms in self.milestones.values() for m in ms]
        if all_milestones:
            self.milestone_agreements = dict(
                Milestone.objects.filter(id__in=all_milestones).values_list("id", "agreement_id")
            )


def _drawn_rows(prepaid: set[int]) -> dict[int, list[tuple[int | None, int]]]:
    """Block minutes drawn per prepaid agreement, by invoice (None: entries on no invoice). Read
    under the lock: a concurrent run of another period may have drawn from the same block."""
    if not prepaid:
        return {}
    rows = (
        EntryBilling.objects.filter(agreement_id__in=sorted(prepaid), block_minutes__gt=0)
        .values("agreement_id", "invoice_id")
        .annotate(m=Sum("block_minutes"))
        .values_list("agreement_id", "invoice_id", "m")
    )
    drawn: dict[int, list[tuple[int | None, int]]] = defaultdict(list)
    for agreement_id, invoice_id, minutes in rows:
        drawn[agreement_id].append((invoice_id, int(minutes or 0)))
    return drawn


def _drawn_outside(rows: list[tuple[int | None, int]], draft: Invoice | None) -> int:
    """Minutes drawn by entries not on `draft` (earlier runs, other drafts, no invoice)."""
    return sum(m for inv, m in rows if draft is None or inv != draft.pk)


_Members = Mapping[GroupKey, set[int]]


def _new_entries(
    snapshot: RunSnapshot, keys: Sequence[GroupKey], members: _Members
) -> tuple[dict[GroupKey, list[gen.EntryIn]], dict[GroupKey, set[int]]]:
    """The snapshot's entries still eligible, per group: as pricing inputs and as ids."""
    entries: dict[GroupKey, list[gen.EntryIn]] = {k: [] for k in keys}
    new_entries: dict[GroupKey, set[int]] = {k: set() for k in keys}
    owner = _owner(keys, snapshot.entry_ids)
    for r in eligible_entry_rows(snapshot.last_day, entry_ids=sorted(owner)):
        key = owner[r.id]
        if r.match_id in members[key]:  # an agreement moved to another group since: next run
            entries[key].append(entry_of(*r))
            new_entries[key].add(r.id)
    return entries, new_entries


def _new_milestones(
    snapshot: RunSnapshot, keys: Sequence[GroupKey], members: _Members
) -> dict[GroupKey, list[tuple[int, int]]]:
    """The snapshot's milestones still due, per group, as (milestone, agreement)."""
    new_milestones: dict[GroupKey, list[tuple[int, int]]] = defaultdict(list)
    owner = _owner(keys, snapshot.milestone_ids)
    if owner:
        due = due_milestones(snapshot.last_day).filter(id__in=sorted(owner))
        for m, a in due.values_list("id", "agreement_id"):
            if a in members[owner[m]]:
                new_milestones[owner[m]].append((m, a))
    return new_milestones


def _new_blocks(
    snapshot: RunSnapshot, keys: Sequence[GroupKey], members: _Members
) -> dict[GroupKey, set[int]]:
    """The snapshot's prepaid blocks still due, per group (agreement ids)."""
    new_blocks: dict[GroupKey, set[int]] = defaultdict(set)
    owner = _owner(keys, snapshot.block_ids)
    if owner:
        due = due_blocks(snapshot.last_day).filter(id__in=sorted(owner))
        for a in due.values_list("id", flat=True):
            if a in members[owner[a]]:
                new_blocks[owner[a]].add(a)
    return new_blocks


def _terms_for(snapshot: RunSnapshot, wanted: set[int]) -> dict[int, gen.AgreementTerms]:
    """The terms of every agreement in `wanted`, from the snapshot or, for those only a draft
    claims that nothing new bills, loaded now."""
    terms = {a: snapshot.terms[a] for a in wanted if a in snapshot.terms}
    missing = wanted - set(terms)
    if missing:
        terms |= load_terms(missing)
    return terms


def batch_group_inputs(
    snapshot: RunSnapshot,
    keys: Sequence[GroupKey],
    drafts: Mapping[GroupKey, Invoice | None],
) -> dict[GroupKey, GroupInputs]:
    """`GroupInputs` for every group in `keys`, in at most about a dozen queries in all."""
    members = {k: set(snapshot.tree.members.get(k, [])) for k in keys}
    entries, new_entries = _new_entries(snapshot, keys, members)
    held = _DraftReads(drafts)
    new_milestones = _new_milestones(snapshot, keys, members)
    new_blocks = _new_blocks(snapshot, keys, members)

    used: dict[GroupKey, set[int]] = {}
    for key in keys:
        entries[key].extend(held.entries.get(key, []))
        used[key] = (
            {e.agreement_id for e in entries[key]}
            | {a for _, a in new_milestones.get(key, [])}
            | new_blocks.get(key, set())
            | held.blocks.get(key, set())
            | {held.milestone_agreements[m] for m in held.milestones.get(key, [])}
        )
    wanted = set().union(*used.values()) if used else set()
    terms = _terms_for(snapshot, wanted)
    prepaid = {a for a in wanted if terms[a].agreement_type == gen.PREPAID_HOURS}
    drawn = _drawn_rows(prepaid)

    result: dict[GroupKey, GroupInputs] = {}
    for key in keys:
        bill_block = new_blocks.get(key, set()) | held.blocks.get(key, set())
        draft = drafts.get(key)
        result[key] = GroupInputs(
            key=key,
            period=snapshot.period,
            last_day=snapshot.last_day,
            draft=draft,
            terms={
                a: replace(
                    terms[a],
                    bill_block=a in bill_block,
                    block_drawn_minutes=_drawn_outside(drawn.get(a, []), draft),
                )
                for a in used[key]
            },
            entries=entries[key],
            milestone_ids=held.milestones.get(key, []) + [m for m, _ in new_milestones[key]],
            extra_lines=held.extra.get(key, []),
            new_entry_ids=new_entries[key],
            new_milestone_ids={m for m, _ in new_milestones.get(key, [])},
            new_block_ids=new_blocks.get(key, set()),
        )
    return result
