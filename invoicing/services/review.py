"""Review of a draft: reject it, adjust a line, add a manual line, edit its notes and payment
terms (SPEC 3, 3.1)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agreements.models import Agreement
from core.errors import BillingError
from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceAdjustment,
    InvoiceLine,
    MilestoneBilling,
)
from invoicing.services.common import (
    bulk_delete_with_history,
    lock_draft,
    need_reason,
    parse_money,
    recompute_totals,
    with_user,
)
from timesheets import services as timesheets_services


def invoice_reject(*, invoice: Invoice, user, reason: str) -> Invoice:
    """Reject a draft: its entries, milestones and block go back to the pool; the invoice and
    its lines stay for the record."""
    reason = need_reason(reason)
    with transaction.atomic():
        invoice = lock_draft(invoice, "rejected")
        bulk_delete_with_history(EntryBilling.objects.filter(invoice=invoice), user)
        bulk_delete_with_history(MilestoneBilling.objects.filter(invoice=invoice), user)
        bulk_delete_with_history(BlockBilling.objects.filter(invoice=invoice), user)
        invoice.status = Invoice.Status.REJECTED
        invoice.rejected_by = user
        invoice.rejected_at = timezone.now()
        invoice.rejection_reason = reason
        with_user(invoice, user).save()
        timesheets_services.unbilled_snapshots_refresh_later()  # its entries are unbilled again
    return invoice


def _record_change(
    *,
    invoice: Invoice,
    line: InvoiceLine,
    user,
    reason: str,
    before: tuple[str, Decimal] | None,
) -> InvoiceAdjustment:
    """Bump the draft's version and append the change to its record (never overwritten)."""
    invoice.version += 1
    invoice.adjusted_by = user  # the latest adjuster, shown on the page; the rows below decide
    recompute_totals(invoice)
    with_user(invoice, user).save()
    return InvoiceAdjustment.objects.create(
        invoice=invoice,
        line_id=line.pk,
        kind=InvoiceAdjustment.Kind.ADD if before is None else InvoiceAdjustment.Kind.CHANGE,
        user=user,
        created_at=timezone.now(),
        version=invoice.version,
        before_description=before[0] if before else "",
        before_amount=before[1] if before else None,
        after_description=line.description,
        after_amount=line.amount,
        reason=reason,
    )


def invoice_line_adjust(
    *, line: InvoiceLine, user, reason: str, amount=None, description: str | None = None
) -> InvoiceLine:
    """Change a draft line's amount and/or description, with a reason. The change is recorded
    (InvoiceAdjustment) and its user may not approve the draft afterwards."""
    reason = need_reason(reason)
    if amount is None and description is None:
        raise BillingError("Give a new amount or a new description.")
    new_amount = parse_money(amount) if amount not in (None, "") else None
    new_description = (description or "").strip() if description is not None else None
    if new_description == "":
        raise BillingError("The description cannot be empty.")
    with transaction.atomic():
        invoice = lock_draft(line.invoice, "adjusted")
        line = InvoiceLine.objects.select_for_update().get(pk=line.pk, invoice=invoice)
        before = (line.description, line.amount)
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
        with_user(line, user).save()
        _record_change(invoice=invoice, line=line, user=user, reason=reason, before=before)
    return line


def _parse_tax_rate(tax_rate) -> Decimal | None:
    if tax_rate in (None, ""):
        return None
    try:
        rate = Decimal(str(tax_rate))
    except InvalidOperation:
        raise BillingError(f"Tax rate must be a percent, got {tax_rate!r}.") from None
    if not rate.is_finite() or rate < 0 or rate > 100 or rate != rate.quantize(Decimal("0.001")):
        raise BillingError(f"Tax rate must be a percent from 0 to 100, got {tax_rate}.")
    return rate


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
    reason = need_reason(reason)
    description = (description or "").strip()
    if not description:
        raise BillingError("The description cannot be empty.")
    value = parse_money(amount)
    rate = _parse_tax_rate(tax_rate)
    with transaction.atomic():
        invoice = lock_draft(invoice, "adjusted")
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
        with_user(line, user).save()
        _record_change(invoice=invoice, line=line, user=user, reason=reason, before=None)
    return line


NOTES_LIMIT = 2000
TERMS_LIMIT = 1000


def invoice_notes_set(*, invoice: Invoice, user, notes: str, terms: str) -> Invoice:
    """Set the draft's notes (printed, EN 16931 BT-22) and payment terms text (printed, BT-20;
    blank = "Payable within N days" from the dates). Customer-facing text, not an amount: the
    change is in the invoice's history with its user and bumps the version (approval of what
    was seen before is refused), but it is not an adjustment and does not bar its author from
    approving."""
    notes = (notes or "").strip().replace("\r\n", "\n")
    terms = (terms or "").strip().replace("\r\n", "\n")
    if len(notes) > NOTES_LIMIT:
        raise BillingError(f"Notes are longer than {NOTES_LIMIT} characters.")
    if len(terms) > TERMS_LIMIT:
        raise BillingError(f"Payment terms are longer than {TERMS_LIMIT} characters.")
    with transaction.atomic():
        invoice = lock_draft(invoice, "edited")
        if (invoice.notes, invoice.terms) == (notes, terms):
            return invoice
        invoice.notes, invoice.terms = notes, terms
        invoice.version += 1
        invoice._change_reason = "notes and terms edited"  # type: ignore[attr-defined]
        with_user(invoice, user).save()
    return invoice
