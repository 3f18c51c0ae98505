"""Writing a batch of billing groups' drafts: invoices, lines, and the claims on entries,
milestones and blocks (SPEC 3). Called by the invoice run inside the batch's transaction.

Set-based (issue 16): the batch's new invoices, lines, milestone and block billings are each one
bulk INSERT (with their history rows in one more); the entry billings arrive by one COPY and
their history rows by one `INSERT ... SELECT` from the rows just copied. The number of queries
does not depend on the number of groups in the batch, nor on their entries. Prices come from `invoicing.generation` only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone
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
from invoicing.services.common import bulk_delete_with_history, with_user

CLAIM_FIELDS = [
    "agreement",
    "invoice",
    "line",
    "period",
    "rounded_minutes",
    "block_minutes",
    "billed_minutes",
]
# What pricing decides on a line (gen.LineOut's fields of the same names): a new line takes them,
# and a line already on the draft is re-priced with them when its minutes changed.
PRICED_FIELDS = (
    "minutes",
    "hours",
    "amount",
    "description",
    "tax_rate",
    "tax_category",
    "tax_exemption_reason",
    "service_start",
    "service_end",
)
LINE_FIELDS = ["position", *PRICED_FIELDS, "adjusted_by", "adjustment_reason", "priced_amount"]
DRAFT_FIELDS = ["version", "invoice_date", "due_date", "run", "net", "tax", "total", "updated_at"]


@dataclass
class GroupOutcome:
    """Counts for one group or a whole batch (added up)."""

    created: int = 0
    updated: int = 0
    lines: int = 0
    entries: int = 0


@dataclass
class _Group:
    """One group's writes, planned before any of the batch's statements run."""

    inputs: selectors.GroupInputs
    priced: gen.PricedInvoice
    invoice: Invoice | None = None
    lines_by_key: dict[tuple, InvoiceLine] = field(default_factory=dict)
    kept: list[InvoiceLine] = field(default_factory=list)  # every line the invoice ends with
    leftovers: list[InvoiceLine] = field(default_factory=list)


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
        role=pl.role,
        rate=pl.rate,
        **{name: getattr(pl, name) for name in PRICED_FIELDS},
    )


def _reprice(line: InvoiceLine, pl: gen.LineOut) -> None:
    """New hours landed on the line: re-priced; a manual change to it is replaced."""
    for name in PRICED_FIELDS:
        setattr(line, name, getattr(pl, name))
    line.adjusted_by, line.adjustment_reason = None, ""
    line.priced_amount = None


def _write_invoices(groups: list[_Group], *, run_id: int, user, billing_emails, out) -> None:
    """New drafts in one bulk INSERT (their totals are the priced ones); open drafts get the
    new dates and a version bump, written with their totals at the end of the batch."""
    missing = {
        g.inputs.key.account_id
        for g in groups
        if g.priced.lines
        and g.inputs.draft is None
        and g.inputs.key.account_id not in billing_emails
    }
    emails = dict(billing_emails)
    if missing:
        emails |= dict(Account.objects.filter(id__in=missing).values_list("id", "billing_email"))
    new: list[Invoice] = []
    for g in groups:
        g.invoice = g.inputs.draft
        if not g.priced.lines:
            continue
        if g.invoice is None:
            key = g.inputs.key
            g.invoice = Invoice(
                account_id=key.account_id,
                currency=key.currency,
                po_number=key.po_number,
                period=g.inputs.period,
                billing_email=emails.get(key.account_id) or "",
                net=g.priced.totals.net,
                tax=g.priced.totals.tax,
                total=g.priced.totals.total,
            )
            new.append(g.invoice)
            out.created += 1
        else:
            # New entries on a draft someone may be reviewing: approval of the old figures is
            # refused from now on (SPEC 3, version).
            g.invoice.version += 1
            out.updated += 1
        g.invoice.invoice_date = g.priced.invoice_date
        g.invoice.due_date = g.priced.due_date
        g.invoice.run_id = run_id
    if new:
        bulk_create_with_history(new, Invoice, batch_size=1000, default_user=user)


def _match_lines(g: _Group, existing: list[InvoiceLine], milestone_of_line, changed, new) -> None:
    """Match the group's priced lines to its draft's lines by key (re-priced where the minutes
    changed), queue the new ones, renumber the manual adjustments after them."""
    by_key: dict[tuple, InvoiceLine] = {}
    adjustments: list[InvoiceLine] = []
    for line in existing:
        if line.kind == InvoiceLine.Kind.ADJUSTMENT:
            adjustments.append(line)
        else:
            by_key[_db_line_key(line, milestone_of_line)] = line
    assert g.invoice is not None
    for position, pl in enumerate(g.priced.lines, start=1):
        found = by_key.pop(pl.key, None)
        if found is None:
            line = _new_line(g.invoice, pl, position)
            new.append(line)
        else:
            line = found
            moved = line.position != position
            line.position = position
            if line.minutes != pl.minutes:
                _reprice(line, pl)
                moved = True
            if moved:
                changed.append(line)
        g.lines_by_key[pl.key] = line
    for offset, line in enumerate(adjustments, start=len(g.priced.lines) + 1):
        if line.position != offset:
            line.position = offset
            changed.append(line)
    g.kept = [*g.lines_by_key.values(), *adjustments]
    g.leftovers = list(by_key.values())


def _write_lines(groups: list[_Group], *, user, out) -> None:
    drafts = [g.inputs.draft.pk for g in groups if g.inputs.draft is not None]
    existing: dict[int, list[InvoiceLine]] = {pk: [] for pk in drafts}
    milestone_of_line: dict[int, int] = {}
    if drafts:
        for line in InvoiceLine.objects.filter(invoice_id__in=drafts).order_by(
            "invoice_id", "position", "id"
        ):
            existing[line.invoice_id].append(line)
        milestone_of_line = dict(
            MilestoneBilling.objects.filter(invoice_id__in=drafts).values_list(
                "line_id", "milestone_id"
            )
        )
    changed: list[InvoiceLine] = []
    new: list[InvoiceLine] = []
    for g in groups:
        draft_lines = existing.get(g.inputs.draft.pk, []) if g.inputs.draft else []
        if g.priced.lines:
            _match_lines(g, draft_lines, milestone_of_line, changed, new)
        else:  # nothing priced: the draft keeps its lines as they are
            g.kept = draft_lines
    if new:
        bulk_create_with_history(new, InvoiceLine, batch_size=1000, default_user=user)
    if changed:
        bulk_update_with_history(
            changed, InvoiceLine, LINE_FIELDS, batch_size=1000, default_user=user
        )
    out.lines += len(new) + sum(1 for line in changed if line.kind != InvoiceLine.Kind.ADJUSTMENT)


_CLAIM_COLUMNS = (
    "entry_id, agreement_id, invoice_id, line_id, period, rounded_minutes, block_minutes, "
    "billed_minutes"
)
# The batch's claimed rows arrive by COPY straight into the table (as eight array literals of
# unnest(), a 25,000-row batch cost the server more to parse than to insert); then one
# INSERT ... SELECT writes their history rows from the rows of those entries (one billing per
# entry: exactly the rows just copied).
_INSERT_HISTORY = f"""
INSERT INTO {{history}} (id, {_CLAIM_COLUMNS},
                       history_date, history_change_reason, history_type, history_user_id)
SELECT id, {_CLAIM_COLUMNS}, %s, %s, '+', %s
FROM {{table}} WHERE entry_id = ANY(%s::bigint[])
"""


_NULL = "\\N"  # COPY text format's NULL


def _copy_text(rows: Sequence[tuple]) -> io.StringIO:
    """COPY text format of insert_claims' rows: ints, a date, NULL invoice/line ids (nothing to
    escape in them)."""
    return io.StringIO(
        "".join(
            f"{e}\t{a}\t{_NULL if i is None else i}\t{_NULL if ln is None else ln}\t{p}\t{r}\t{b}\t{bl}\n"
            for e, a, i, ln, p, r, b, bl in rows
        )
    )


def insert_claims(rows: Sequence[tuple], *, user, reason: str) -> int:
    """Entry billings and their '+' history rows (user, reason), by one COPY and one
    statement for any number of rows: (entry, agreement, invoice, line, period, rounded, block,
    billed) tuples of entries not billed yet."""
    if not rows:
        return 0
    table = EntryBilling._meta.db_table
    sql = _INSERT_HISTORY.format(table=table, history=EntryBilling.history.model._meta.db_table)
    with connection.cursor() as cursor:
        # A refused row (an entry billed by another run meanwhile) raises Django's IntegrityError,
        # as a statement through the cursor would.
        with connection.wrap_database_errors:
            cursor.cursor.copy_expert(
                f"COPY {table} ({_CLAIM_COLUMNS}) FROM STDIN", _copy_text(rows)
            )
        entry_ids = [row[0] for row in rows]
        cursor.execute(sql, [timezone.now(), reason, getattr(user, "pk", None), entry_ids])
    return len(rows)


def _claim_changed(billing: EntryBilling, row: tuple) -> bool:
    """Set a draft's entry billing to the claim `row` (insert_claims' tuple); True if changed."""
    _, agreement_id, invoice_id, line_id, _, rounded, block, billed = row
    values = {
        "agreement_id": agreement_id,
        "invoice_id": invoice_id,
        "line_id": line_id,
        "rounded_minutes": rounded,
        "block_minutes": block,
        "billed_minutes": billed,
    }
    if all(getattr(billing, k) == v for k, v in values.items()):
        return False
    for k, v in values.items():
        setattr(billing, k, v)
    return True


def _write_claims(groups: list[_Group], *, user, reason: str, out) -> None:
    """Entry claims of the batch: new rows in one statement, a draft's rows updated in place,
    rows no longer priceable deleted (each with history)."""
    drafts = {g.inputs.draft.pk for g in groups if g.inputs.draft is not None}
    claimed: dict[int, EntryBilling] = {}
    if drafts:
        claimed = {eb.entry_id: eb for eb in EntryBilling.objects.filter(invoice_id__in=drafts)}
    to_create: list[tuple] = []
    to_update: list[EntryBilling] = []
    for g in groups:
        invoice_id = g.invoice.pk if g.invoice is not None else None
        for claim in g.priced.claims:
            line = g.lines_by_key.get(claim.line_key) if claim.line_key else None
            # An entry wholly drawn from a prepaid block is on no invoice (SPEC 3).
            row = (
                claim.entry_id,
                claim.agreement_id,
                invoice_id if line is not None else None,
                line.pk if line is not None else None,
                g.inputs.period,
                claim.rounded_minutes,
                claim.block_minutes,
                claim.billed_minutes,
            )
            existing = claimed.pop(claim.entry_id, None) if claimed else None
            if existing is None:
                to_create.append(row)
            elif _claim_changed(existing, row):
                to_update.append(existing)
    if claimed:  # claimed before but no longer priceable (e.g. its rate was removed)
        bulk_delete_with_history(
            EntryBilling.objects.filter(pk__in=[r.pk for r in claimed.values()]), user
        )
    out.entries += insert_claims(to_create, user=user, reason=reason)
    if to_update:
        bulk_update_with_history(
            to_update,
            EntryBilling,
            [f for f in CLAIM_FIELDS if f != "period"],
            batch_size=1000,
            default_user=user,
        )


def _write_milestones_and_blocks(groups: list[_Group], *, user) -> None:
    drafts = [g.invoice.pk for g in groups if g.inputs.draft is not None and g.invoice]
    done_milestones: set[int] = set()
    done_blocks: set[int] = set()
    if drafts:
        done_milestones = set(
            MilestoneBilling.objects.filter(invoice_id__in=drafts).values_list(
                "milestone_id", flat=True
            )
        )
        done_blocks = set(
            BlockBilling.objects.filter(invoice_id__in=drafts).values_list(
                "agreement_id", flat=True
            )
        )
    milestones: list[MilestoneBilling] = []
    blocks: list[BlockBilling] = []
    for g in groups:
        if g.invoice is None:
            continue
        for pl in g.priced.lines:
            line = g.lines_by_key[pl.key]
            if (
                pl.kind == gen.MILESTONE
                and pl.milestone_id is not None
                and pl.milestone_id not in done_milestones
            ):
                milestones.append(
                    MilestoneBilling(milestone_id=pl.milestone_id, invoice=g.invoice, line=line)
                )
            elif (
                pl.kind == gen.BLOCK
                and pl.agreement_id is not None
                and pl.agreement_id not in done_blocks
            ):
                blocks.append(
                    BlockBilling(agreement_id=pl.agreement_id, invoice=g.invoice, line=line)
                )
    if milestones:
        bulk_create_with_history(milestones, MilestoneBilling, default_user=user)
    if blocks:
        bulk_create_with_history(blocks, BlockBilling, default_user=user)


def _finish_drafts(groups: list[_Group], *, user) -> None:
    """Open drafts: lines no longer billed removed (rare: re-runs only), totals from every line
    the draft ends with (kept adjustments and manual changes included), one bulk UPDATE."""
    now = timezone.now()
    drafts: list[Invoice] = []
    for g in groups:
        draft = g.inputs.draft
        if draft is None:
            continue
        for line in g.leftovers:
            with_user(line, user).delete()
        totals = gen.compute_totals(
            gen.AmountLine(amount=line.amount, tax_rate=line.tax_rate) for line in g.kept
        )
        draft.net, draft.tax, draft.total = totals.net, totals.tax, totals.total
        draft.updated_at = now
        drafts.append(draft)
    if drafts:
        bulk_update_with_history(drafts, Invoice, DRAFT_FIELDS, batch_size=1000, default_user=user)


def drafts_write(
    items: Sequence[tuple[selectors.GroupInputs, gen.PricedInvoice]],
    *,
    run_id: int,
    user,
    billing_emails: dict[int, str] | None = None,
) -> GroupOutcome:
    """Write a batch of groups' invoices, lines and claims: a fixed number of statements
    whatever the number of groups and entries (re-runs onto open drafts update the changed lines
    and claims in bulk too; only a line no longer billed is deleted one by one)."""
    out = GroupOutcome()
    groups = [_Group(inputs=i, priced=p) for i, p in items]
    if not groups:
        return out
    _write_invoices(groups, run_id=run_id, user=user, billing_emails=billing_emails or {}, out=out)
    _write_lines(groups, user=user, out=out)
    _write_claims(groups, user=user, reason=f"Invoice run #{run_id}", out=out)
    _write_milestones_and_blocks(groups, user=user)
    _finish_drafts(groups, user=user)
    return out


def draft_write(
    inputs: selectors.GroupInputs,
    priced: gen.PricedInvoice,
    *,
    run_id: int,
    user,
    billing_email: str | None = None,
) -> GroupOutcome:
    """One group's draft (`drafts_write` of a batch of one)."""
    emails = {inputs.key.account_id: billing_email} if billing_email is not None else {}
    return drafts_write([(inputs, priced)], run_id=run_id, user=user, billing_emails=emails)
