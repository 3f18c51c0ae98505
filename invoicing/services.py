"""Writes for invoicing: runs, approval, rejection, adjustments, sending, credit notes (SPEC 3).

Every state change is one transaction that locks the invoice row first (`select_for_update`),
checks the transition, writes, and records the user in history (`_history_user`, or the bulk
history helpers). Errors a user can act on are `BillingError` with a readable message.

Invoice runs: each billing group is written in its own transaction (invoice + lines + claims),
so a run that dies half-way leaves whole groups only, and a re-run completes the rest. Group
transactions take one advisory lock (PostgreSQL) so two runs, of the same period or of two
periods, never claim the same entry at once; the one-row-per-entry / milestone / block unique
constraints are the last word: the database refuses double billing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from agreements.models import Account, Agreement
from core.dates import firm_today
from core.errors import BillingError
from invoicing import generation as gen
from invoicing import numbering, selectors
from invoicing.models import (
    BlockBilling,
    CreditNote,
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MilestoneBilling,
)
from invoicing.pdf import credit_note_pdf, invoice_pdf
from timesheets.models import TimeEntry

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key shared by every invoice-run group transaction ("BILL" in ASCII).
RUN_LOCK_KEY = 0x42494C4C
CLAIM_FIELDS = [
    "agreement",
    "invoice",
    "line",
    "period",
    "rounded_minutes",
    "block_minutes",
    "billed_minutes",
]


def _with_user(obj, user):
    obj._history_user = user
    return obj


def _bulk_delete_with_history(queryset, user) -> int:
    """Delete rows and record a '-' history row for each (QuerySet.delete() records none)."""
    rows = list(queryset)
    if not rows:
        return 0
    history = type(rows[0]).history.model
    now = timezone.now()
    history.objects.bulk_create(
        [
            history(
                history_date=now,
                history_user=user if user is not None else history.get_default_history_user(obj),
                history_change_reason="",
                history_type="-",
                **{f.attname: getattr(obj, f.attname) for f in history.tracked_fields},
            )
            for obj in rows
        ]
    )
    # One DELETE without per-row signals: the history rows above already say who deleted them
    # (simple_history's post_delete would add a second row each, one INSERT at a time). Only
    # used for the claim tables, which nothing references.
    doomed = queryset.model.objects.filter(pk__in=[r.pk for r in rows])
    doomed._raw_delete(doomed.db)
    return len(rows)


def _lock_runs() -> None:
    """Serialise invoice-run group transactions (advisory lock held to the end of the transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK_KEY])


def _refresh_flags(user) -> None:
    """SPEC 3: a run first brings the flags up to date."""
    try:
        from timesheets.services import reconciliation_run
    except ImportError:  # the reconciliation service is written in parallel; run without it
        logger.warning("timesheets.services.reconciliation_run is missing: flags not refreshed")
        return
    reconciliation_run(as_of=firm_today(), user=user)


def _recompute_totals(invoice: Invoice) -> None:
    rows = invoice.lines.values_list("amount", "tax_rate")
    totals = gen.compute_totals(gen.AmountLine(amount=a, tax_rate=t) for a, t in rows)
    invoice.net, invoice.tax, invoice.total = totals.net, totals.tax, totals.total


def _parse_money(value, what: str = "Amount") -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BillingError(f"{what} must be a decimal amount, got {value!r}.") from None
    if not amount.is_finite():
        raise BillingError(f"{what} must be a decimal amount, got {value!r}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise BillingError(f"{what} has more than 2 decimal places: {value}.")
    if abs(amount) >= Decimal("1e12"):
        raise BillingError(f"{what} is too large: {value}.")
    return amount.quantize(Decimal("0.01"))


def _need_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise BillingError("A reason is required.")
    return text


# --- invoice runs ---------------------------------------------------------------------------


@dataclass
class GroupOutcome:
    created: int = 0
    updated: int = 0
    lines: int = 0
    entries: int = 0


def _db_line_key(line: InvoiceLine, milestone_of_line: dict[int, int]) -> tuple:
    if line.kind == InvoiceLine.Kind.TIME:
        return (gen.TIME, line.agreement_id, line.role.strip().lower(), line.rate, None)
    if line.kind == InvoiceLine.Kind.BLOCK:
        return (gen.BLOCK, line.agreement_id, "", None, None)
    return (gen.MILESTONE, line.agreement_id, "", None, milestone_of_line.get(line.pk))


def _generate_group(
    *, run_id: int, key: selectors.GroupKey, snapshot: selectors.RunSnapshot, user
) -> GroupOutcome:
    """Write one group's draft (invoice + lines + claims) in one transaction."""
    with transaction.atomic():
        _lock_runs()
        draft = selectors.open_draft(key, snapshot.period, lock=True)
        inputs = selectors.group_inputs(snapshot, key, draft)
        outcome = GroupOutcome()
        if inputs.has_news:
            priced = inputs.price()
            outcome = _write_group(
                inputs,
                priced,
                run_id=run_id,
                user=user,
                billing_email=snapshot.billing_emails.get(key.account_id),
            )
        InvoiceRun.objects.filter(pk=run_id).update(
            groups_done=F("groups_done") + 1,
            invoices_created=F("invoices_created") + outcome.created,
            invoices_updated=F("invoices_updated") + outcome.updated,
            lines_written=F("lines_written") + outcome.lines,
            entries_billed=F("entries_billed") + outcome.entries,
        )
        return outcome


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


def _write_group(
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
            # written once (the same figures `_recompute_totals` reads back for a draft).
            invoice.net = priced.totals.net
            invoice.tax = priced.totals.tax
            invoice.total = priced.totals.total
            outcome.created = 1
        else:
            outcome.updated = 1
        invoice.invoice_date = priced.invoice_date
        invoice.due_date = priced.due_date
        invoice.run_id = run_id
        _with_user(invoice, user).save()

        existing: dict[tuple, InvoiceLine] = {}
        adjustments: list[InvoiceLine] = []
        if draft is not None:
            milestone_of_line = dict(
                MilestoneBilling.objects.filter(invoice=draft).values_list(
                    "line_id", "milestone_id"
                )
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
                _with_user(line, user).save()
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
                _with_user(line, user).save()
        leftovers = list(existing.values())

    # Entry claims: update the draft's rows in place, add new ones (bulk, with history).
    claimed = {}
    if draft is not None:
        claimed = {eb.entry_id: eb for eb in EntryBilling.objects.filter(invoice=draft)}
    to_create, to_update = [], []
    for claim in priced.claims:
        line = lines_by_key.get(claim.line_key) if claim.line_key else None
        values = {
            "agreement_id": claim.agreement_id,
            # An entry wholly drawn from a prepaid block is recorded on no invoice (SPEC 3).
            "invoice_id": invoice.pk if line is not None else None,
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
        _bulk_delete_with_history(
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
    outcome.entries = len(to_create)

    if invoice is not None:
        done_milestones: set[int] = set()
        done_blocks: set[int] = set()
        if draft is not None:
            done_milestones = set(
                MilestoneBilling.objects.filter(invoice=invoice).values_list(
                    "milestone_id", flat=True
                )
            )
            done_blocks = set(
                BlockBilling.objects.filter(invoice=invoice).values_list("agreement_id", flat=True)
            )
        milestone_rows = [
            MilestoneBilling(
                milestone_id=pl.milestone_id, invoice=invoice, line=lines_by_key[pl.key]
            )
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
        if draft is not None:
            for line in leftovers:
                _with_user(line, user).delete()
            _recompute_totals(invoice)
            _with_user(invoice, user).save()
    return outcome


def invoice_run_generate(
    *, period: dt.date, user=None, run: InvoiceRun | None = None
) -> InvoiceRun:
    """Run generation for the month containing `period`, synchronously. Idempotent: a re-run,
    or a run after one that died half-way, ends exactly as one clean run would.

    The flags are brought up to date first (SPEC 3); then one snapshot reads what every group
    would bill (a fixed number of queries), and each group is written in its own transaction,
    re-checking its slice under the run lock."""
    period = period.replace(day=1)
    if run is None:
        run = InvoiceRun.objects.create(period=period, started_by=user)
    InvoiceRun.objects.filter(pk=run.pk).update(
        status=InvoiceRun.Status.RUNNING, started_at=timezone.now(), groups_done=0, error=""
    )
    try:
        _refresh_flags(user)
        snapshot = selectors.run_snapshot(period)
        InvoiceRun.objects.filter(pk=run.pk).update(groups_total=len(snapshot.groups))
        for key in snapshot.groups:
            _generate_group(run_id=run.pk, key=key, snapshot=snapshot, user=user)
    except Exception as exc:
        InvoiceRun.objects.filter(pk=run.pk).update(
            status=InvoiceRun.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    InvoiceRun.objects.filter(pk=run.pk).update(
        status=InvoiceRun.Status.DONE, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def invoice_run_start(*, period: dt.date, user) -> InvoiceRun:
    """Record a queued run and enqueue it once the row is committed."""
    from invoicing.tasks import generate_invoices_task

    run = InvoiceRun.objects.create(period=period.replace(day=1), started_by=user)
    transaction.on_commit(lambda: generate_invoices_task.delay(run.pk))
    return run


# --- review: reject, adjust, approve ----------------------------------------------------------


def _lock_draft(invoice: Invoice, action: str) -> Invoice:
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.DRAFT:
        raise BillingError(
            f"Invoice {locked} is {locked.get_status_display().lower()}: only a draft can be {action}."
        )
    return locked


def invoice_reject(*, invoice: Invoice, user, reason: str) -> Invoice:
    """Reject a draft: its entries, milestones and block go back to the pool; the invoice and
    its lines stay for the record."""
    reason = _need_reason(reason)
    with transaction.atomic():
        invoice = _lock_draft(invoice, "rejected")
        _bulk_delete_with_history(EntryBilling.objects.filter(invoice=invoice), user)
        _bulk_delete_with_history(MilestoneBilling.objects.filter(invoice=invoice), user)
        _bulk_delete_with_history(BlockBilling.objects.filter(invoice=invoice), user)
        invoice.status = Invoice.Status.REJECTED
        invoice.rejected_by = user
        invoice.rejected_at = timezone.now()
        invoice.rejection_reason = reason
        _with_user(invoice, user).save()
    return invoice


def invoice_line_adjust(
    *, line: InvoiceLine, user, reason: str, amount=None, description: str | None = None
) -> InvoiceLine:
    """Change a draft line's amount and/or description, with a reason. The adjusting user may
    not approve the draft afterwards."""
    reason = _need_reason(reason)
    if amount is None and description is None:
        raise BillingError("Give a new amount or a new description.")
    new_amount = _parse_money(amount) if amount not in (None, "") else None
    new_description = (description or "").strip() if description is not None else None
    if new_description == "":
        raise BillingError("The description cannot be empty.")
    with transaction.atomic():
        invoice = _lock_draft(line.invoice, "adjusted")
        line = InvoiceLine.objects.select_for_update().get(pk=line.pk, invoice=invoice)
        if new_amount is not None:
            # A priced line keeps its priced amount: the customer sees quantity x price as
            # priced and the difference as a discount or surcharge (SPEC 3.1).
            if line.kind != InvoiceLine.Kind.ADJUSTMENT and line.priced_amount is None:
                line.priced_amount = line.amount
            if line.priced_amount == new_amount:
                line.priced_amount = None
            line.amount = new_amount
        if new_description:
            line.description = new_description[:500]
        line.adjustment_reason = reason
        line.adjusted_by = user
        _with_user(line, user).save()
        invoice.adjusted_by = user
        _recompute_totals(invoice)
        _with_user(invoice, user).save()
    return line


def _added_line_tax(invoice: Invoice, rate: Decimal | None) -> tuple[str, str, Decimal]:
    """(VAT category, exemption reason, rate) of a line added to `invoice`: the category of the
    invoice's lines at that rate; with no rate given, the invoice's one rate."""
    taxed = list(
        invoice.lines.order_by("position", "id").values_list(
            "tax_rate", "tax_category", "tax_exemption_reason"
        )
    )
    if rate is None:
        rates = {r for r, _, _ in taxed}
        if len(rates) > 1:
            shown = ", ".join(f"{r.normalize():f}%" for r in sorted(rates))
            raise BillingError(f"This invoice has several tax rates ({shown}); give the tax rate.")
        rate = rates.pop() if rates else Decimal("0")
    for line_rate, category, exemption in taxed:
        if line_rate == rate and category:
            return category, exemption, rate
    return ("S" if rate > 0 else "Z"), "", rate


def invoice_line_add(
    *,
    invoice: Invoice,
    user,
    reason: str,
    description: str,
    amount,
    tax_rate=None,
    agreement: Agreement | None = None,
) -> InvoiceLine:
    """Add a manual adjustment line (e.g. a discount, negative) to a draft, with a reason.
    Without a tax rate it takes the invoice's (its lines' one rate and VAT category)."""
    reason = _need_reason(reason)
    description = (description or "").strip()
    if not description:
        raise BillingError("The description cannot be empty.")
    value = _parse_money(amount)
    rate: Decimal | None = None
    if tax_rate not in (None, ""):
        try:
            rate = Decimal(str(tax_rate))
        except InvalidOperation:
            raise BillingError(f"Tax rate must be a percent, got {tax_rate!r}.") from None
        if (
            not rate.is_finite()
            or rate < 0
            or rate > 100
            or rate != rate.quantize(Decimal("0.001"))
        ):
            raise BillingError(f"Tax rate must be a percent from 0 to 100, got {tax_rate}.")
    with transaction.atomic():
        invoice = _lock_draft(invoice, "adjusted")
        category, exemption, rate = _added_line_tax(invoice, rate)
        if agreement is not None and (
            agreement.account_id != invoice.account_id or agreement.currency != invoice.currency
        ):
            raise BillingError(f"Agreement {agreement.external_id} is not this invoice's customer.")
        last = invoice.lines.aggregate(m=Max("position"))["m"] or 0
        line = InvoiceLine(
            invoice=invoice,
            agreement=agreement,
            kind=InvoiceLine.Kind.ADJUSTMENT,
            position=last + 1,
            description=description[:500],
            amount=value,
            tax_rate=rate,
            tax_category=category,
            tax_exemption_reason=exemption,
            adjustment_reason=reason,
            adjusted_by=user,
        )
        _with_user(line, user).save()
        invoice.adjusted_by = user
        _recompute_totals(invoice)
        _with_user(invoice, user).save()
    return line


def invoice_approve(*, invoice: Invoice, user) -> Invoice:
    """Approve a draft: the next gapless INV-YYYY-NNNNN (taken in this transaction, so a
    rollback gives it back), the final PDF stored with its SHA-256, entries locked, frozen."""
    if user is None:
        raise BillingError("An invoice is approved by a person.")
    with transaction.atomic():
        invoice = _lock_draft(invoice, "approved")
        if invoice.adjusted_by_id is not None and invoice.adjusted_by_id == user.pk:
            raise BillingError(
                f"You adjusted draft #{invoice.pk}; another billing admin must approve it."
            )
        if not invoice.lines.exists():
            raise BillingError(f"Draft #{invoice.pk} has no lines.")
        if invoice.total < 0:
            raise BillingError(f"Draft #{invoice.pk} has a negative total; adjust it first.")
        year = invoice.invoice_date.year
        seq, number = numbering.take_number(series=numbering.INVOICE, year=year)
        invoice.number, invoice.number_year, invoice.number_seq = number, year, seq
        invoice.status = Invoice.Status.APPROVED
        invoice.approved_by = user
        invoice.approved_at = timezone.now()
        pdf = invoice_pdf(invoice)
        invoice.pdf.save(f"{number}.pdf", ContentFile(pdf), save=False)
        invoice.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        _with_user(invoice, user).save()
        entries = list(TimeEntry.objects.filter(billing__invoice=invoice, locked=False))
        for entry in entries:
            entry.locked = True
        if entries:
            bulk_update_with_history(
                entries, TimeEntry, ["locked"], batch_size=1000, default_user=user
            )
    return invoice


# --- after approval: send, credit -------------------------------------------------------------


def invoice_send(*, invoice: Invoice, user) -> Invoice:
    """E-mail the approved invoice's stored PDF to its billing e-mail; status `sent`, recorded."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only an approved invoice is sent."
            )
        to = invoice.billing_email or invoice.account.billing_email
        if not to:
            raise BillingError(f"Invoice {invoice} has no billing e-mail; set it on the account.")
        if not invoice.pdf:
            raise BillingError(f"Invoice {invoice} has no stored PDF.")
        with invoice.pdf.open("rb") as fh:
            pdf = fh.read()
        if hashlib.sha256(pdf).hexdigest() != invoice.pdf_sha256:
            raise BillingError(f"The stored PDF of {invoice} does not match its hash; not sent.")
        firm = settings.BILLING_FIRM_NAME
        message = EmailMessage(
            subject=f"Invoice {invoice.number} from {firm}",
            body=(
                f"Dear {invoice.account.name},\n\nplease find attached invoice {invoice.number} "
                f"of {invoice.invoice_date:%Y-%m-%d} for {invoice.currency} {invoice.total:,.2f}, "
                f"due on {invoice.due_date:%Y-%m-%d}.\n\nKind regards,\n{firm}\n"
            ),
            to=[to],
        )
        message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # noqa: BLE001 - any mail failure is reported, nothing changes
            raise BillingError(f"Could not send {invoice} to {to}: {exc}") from exc
        if invoice.status == Invoice.Status.APPROVED:
            invoice.status = Invoice.Status.SENT
        invoice.sent_at = timezone.now()
        invoice.sent_to = to
        _with_user(invoice, user).save()
    return invoice


def credit_note_create(
    *, invoice: Invoice, amount, reason: str, user, date: dt.date | None = None
) -> CreditNote:
    """CN-YYYY-NNNNN against an approved invoice, for part or all of its open amount."""
    reason = _need_reason(reason)
    value = _parse_money(amount)
    if value <= 0:
        raise BillingError("A credit note is for a positive amount.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only an approved invoice is credited."
            )
        open_amount = selectors.open_amount(invoice)
        if value > open_amount:
            raise BillingError(
                f"Invoice {invoice} has {invoice.currency} {open_amount} open; "
                f"cannot credit {invoice.currency} {value}."
            )
        date = date or firm_today()
        if date < invoice.invoice_date:
            raise BillingError(
                f"A credit note cannot be dated before its invoice ({invoice.invoice_date})."
            )
        seq, number = numbering.take_number(series=numbering.CREDIT_NOTE, year=date.year)
        note = CreditNote(
            invoice=invoice,
            number=number,
            number_year=date.year,
            number_seq=seq,
            date=date,
            amount=value,
            currency=invoice.currency,
            reason=reason,
            created_by=user,
        )
        note.pdf.save(f"{number}.pdf", ContentFile(credit_note_pdf(note)), save=False)
        _with_user(note, user).save()
    return note
