"""Writing one billing group's draft: the invoice, its lines, and the claims on entries,
milestones and blocks (SPEC 3). Called by the invoice run inside the group's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from agreements.models import Account
from agreements.pricing import role_key
from invoicing import generation as gen
from invoicing import selectors
from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceLine,
    MilestoneBilling,
)
from invoicing.services.common import bulk_delete_with_history, recompute_totals, with_user

CLAIM_FIELDS = [
    "agreement",
    "invoice",
    "line",
    "period",
    "rounded_minutes",
    "block_minutes",
    "billed_minutes",
]


@dataclass
class GroupOutcome:
    created: int = 0
    updated: int = 0
    lines: int = 0
    entries: int = 0


def _db_line_key(line: InvoiceLine, milestone_of_line: dict[int, int]) -> tuple:
    if line.kind == InvoiceLine.Kind.TIME:
        return (gen.TIME, line.agreement_id, role_key(line.role), line.rate, None)
    if line.kind == InvoiceLine.Kind.BLOCK:
        return (gen.BLOCK, line.agreement_id, "", None, None)
    return (gen.MILESTONE, line.agreement_id, "", None, milestone_of_line.get(line.pk))


def _new_line(invoice: Invoice, pl: gen.LineOut, position: int) -> InvoiceLine:
    return InvoiceLine(
        invoice=invoice,
        agreement_id=pl.agreement_id,
        kind=pl.kind,
        position=position,
        description=pl.description,
        role=pl.role,
        minutes=pl.minutes,
        hours=pl.hours,
        rate=pl.rate,
        amount=pl.amount,
        tax_rate=pl.tax_rate,
        tax_category=pl.tax_category,
        tax_exemption_reason=pl.tax_exemption_reason,
        service_start=pl.service_start,
        service_end=pl.service_end,
    )


def _write_invoice(
    inputs: selectors.GroupInputs,
    priced: gen.PricedInvoice,
    *,
    run_id: int,
    user,
    billing_email: str | None,
    outcome: GroupOutcome,
) -> Invoice:
    invoice = inputs.draft
    if invoice is None:
        if billing_email is None:
            account = Account.objects.only("billing_email").get(pk=inputs.key.account_id)
            billing_email = account.billing_email
        invoice = Invoice(
            account_id=inputs.key.account_id,
            currency=inputs.key.currency,
            po_number=inputs.key.po_number,
            period=inputs.period,
            billing_email=billing_email,
        )
        # A new draft holds only these lines: its totals are the priced ones, so it is
        # written once (the same figures `recompute_totals` reads back for a draft).
        invoice.net = priced.totals.net
        invoice.tax = priced.totals.tax
        invoice.total = priced.totals.total
        outcome.created = 1
    else:
        outcome.updated = 1
        # New entries on a draft someone may be reviewing: approval of the old figures is
        # refused from now on (SPEC 3, version).
        invoice.version += 1
    invoice.invoice_date = priced.invoice_date
    invoice.due_date = priced.due_date
    invoice.run_id = run_id
    with_user(invoice, user).save()
    return invoice


def _write_lines(
    invoice: Invoice, draft: Invoice | None, priced: gen.PricedInvoice, *, user, outcome
) -> tuple[dict[tuple, InvoiceLine], list[InvoiceLine]]:
    """Match priced lines to the draft's lines by key; returns lines by key and the leftovers."""
    lines_by_key: dict[tuple, InvoiceLine] = {}
    existing: dict[tuple, InvoiceLine] = {}
    adjustments: list[InvoiceLine] = []
    if draft is not None:
        milestone_of_line = dict(
            MilestoneBilling.objects.filter(invoice=draft).values_list("line_id", "milestone_id")
        )
        for line in draft.lines.order_by("position", "id"):
            if line.kind == InvoiceLine.Kind.ADJUSTMENT:
                adjustments.append(line)
            else:
                existing[_db_line_key(line, milestone_of_line)] = line
    new_lines: list[tuple[tuple, InvoiceLine]] = []
    for position, pl in enumerate(priced.lines, start=1):
        line = existing.pop(pl.key, None)
        if line is None:
            new_lines.append((pl.key, _new_line(invoice, pl, position)))
            continue
        changed = line.position != position
        line.position = position
        if line.minutes != pl.minutes:
            # New hours landed on the line: re-priced; a manual change to it is replaced.
            line.minutes, line.hours, line.amount = pl.minutes, pl.hours, pl.amount
            line.description, line.tax_rate = pl.description, pl.tax_rate
            line.tax_category = pl.tax_category
            line.tax_exemption_reason = pl.tax_exemption_reason
            line.service_start, line.service_end = pl.service_start, pl.service_end
            line.adjusted_by, line.adjustment_reason = None, ""
            line.priced_amount = None
            changed = True
        if changed:
            with_user(line, user).save()
            outcome.lines += 1
        lines_by_key[pl.key] = line
    if new_lines:
        created = bulk_create_with_history(
            [line for _, line in new_lines], InvoiceLine, batch_size=1000, default_user=user
        )
        for (k, _), line in zip(new_lines, created, strict=True):
            lines_by_key[k] = line
        outcome.lines += len(created)
    for offset, line in enumerate(adjustments, start=len(priced.lines) + 1):
        if line.position != offset:
            line.position = offset
            with_user(line, user).save()
    return lines_by_key, list(existing.values())


def _write_claims(
    inputs: selectors.GroupInputs,
    priced: gen.PricedInvoice,
    invoice: Invoice | None,
    lines_by_key: dict[tuple, InvoiceLine],
    *,
    user,
) -> int:
    """Entry claims: update the draft's rows in place, add new ones (bulk, with history).
    Returns how many entries were newly claimed."""
    claimed = {}
    if inputs.draft is not None:
        claimed = {eb.entry_id: eb for eb in EntryBilling.objects.filter(invoice=inputs.draft)}
    to_create, to_update = [], []
    for claim in priced.claims:
        line = lines_by_key.get(claim.line_key) if claim.line_key else None
        values = {
            "agreement_id": claim.agreement_id,
            # An entry wholly drawn from a prepaid block is recorded on no invoice (SPEC 3).
            "invoice_id": invoice.pk if line is not None and invoice is not None else None,
            "line_id": line.pk if line is not None else None,
            "rounded_minutes": claim.rounded_minutes,
            "block_minutes": claim.block_minutes,
            "billed_minutes": claim.billed_minutes,
        }
        row = claimed.pop(claim.entry_id, None)
        if row is None:
            to_create.append(EntryBilling(entry_id=claim.entry_id, period=inputs.period, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            to_update.append(row)
    if claimed:  # claimed before but no longer priceable (e.g. its rate was removed)
        bulk_delete_with_history(
            EntryBilling.objects.filter(pk__in=[r.pk for r in claimed.values()]), user
        )
    if to_create:
        bulk_create_with_history(to_create, EntryBilling, batch_size=1000, default_user=user)
    if to_update:
        bulk_update_with_history(
            to_update,
            EntryBilling,
            [f for f in CLAIM_FIELDS if f != "period"],
            batch_size=1000,
            default_user=user,
        )
    return len(to_create)


def _write_milestones_and_blocks(
    invoice: Invoice,
    draft: Invoice | None,
    priced: gen.PricedInvoice,
    lines_by_key: dict[tuple, InvoiceLine],
    *,
    user,
) -> None:
    done_milestones: set[int] = set()
    done_blocks: set[int] = set()
    if draft is not None:
        done_milestones = set(
            MilestoneBilling.objects.filter(invoice=invoice).values_list("milestone_id", flat=True)
        )
        done_blocks = set(
            BlockBilling.objects.filter(invoice=invoice).values_list("agreement_id", flat=True)
        )
    milestone_rows = [
        MilestoneBilling(milestone_id=pl.milestone_id, invoice=invoice, line=lines_by_key[pl.key])
        for pl in priced.lines
        if pl.kind == gen.MILESTONE and pl.milestone_id not in done_milestones
    ]
    if milestone_rows:
        bulk_create_with_history(milestone_rows, MilestoneBilling, default_user=user)
    block_rows = [
        BlockBilling(agreement_id=pl.agreement_id, invoice=invoice, line=lines_by_key[pl.key])
        for pl in priced.lines
        if pl.kind == gen.BLOCK and pl.agreement_id not in done_blocks
    ]
    if block_rows:
        bulk_create_with_history(block_rows, BlockBilling, default_user=user)


def draft_write(
    inputs: selectors.GroupInputs,
    priced: gen.PricedInvoice,
    *,
    run_id: int,
    user,
    billing_email: str | None = None,
) -> GroupOutcome:
    """Write a group's invoice, lines and claims. A new draft takes a fixed number of INSERTs
    whatever its size (rows and their history in bulk); re-running onto an open draft updates
    the lines whose minutes changed one by one (few) and bulk-writes the rest."""
    outcome = GroupOutcome()
    draft = inputs.draft
    invoice: Invoice | None = draft
    lines_by_key: dict[tuple, InvoiceLine] = {}
    leftovers: list[InvoiceLine] = []
    if priced.lines:
        invoice = _write_invoice(
            inputs, priced, run_id=run_id, user=user, billing_email=billing_email, outcome=outcome
        )
        lines_by_key, leftovers = _write_lines(invoice, draft, priced, user=user, outcome=outcome)
    outcome.entries = _write_claims(inputs, priced, invoice, lines_by_key, user=user)
    if invoice is not None:
        _write_milestones_and_blocks(invoice, draft, priced, lines_by_key, user=user)
        if draft is not None:
            for line in leftovers:
                with_user(line, user).delete()
            recompute_totals(invoice)
            with_user(invoice, user).save()
    return outcome
