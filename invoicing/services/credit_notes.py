"""Credit notes against an approved invoice (SPEC 3)."""

from __future__ import annotations

import datetime as dt

from django.core.files.base import ContentFile
from django.db import transaction

from core import settlement
from core.dates import firm_today
from core.errors import BillingError
from core.money import format_money
from invoicing import numbering
from invoicing.einvoice.checks import credit_note_check
from invoicing.models import CreditNote, Invoice
from invoicing.pdf import credit_note_pdf
from invoicing.services.common import need_reason, parse_money, with_user


def credit_note_create(
    *,
    invoice: Invoice,
    amount,
    reason: str,
    user,
    date: dt.date | None = None,
    through_dispute: bool = False,
) -> CreditNote:
    """CN-YYYY-NNNNN against an approved invoice, for part or all of its open amount. Refused,
    naming the missing field, when its e-invoice could not be valid (as approval is).

    A disputed invoice is credited only through its dispute (`through_dispute`, set by
    receivables.disputes), where a second person approves a credit above the four-eyes amount;
    a plain credit note would let one user credit it alone and then clear the dispute."""
    reason = need_reason(reason)
    value = parse_money(amount)
    if value <= 0:
        raise BillingError("A credit note is for a positive amount.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only an approved invoice is credited."
            )
        if invoice.disputed and not through_dispute:
            raise BillingError(
                f"Invoice {invoice} is disputed: credit it from its dispute (a second person "
                "approves credits above the four-eyes amount)."
            )
        open_amount = settlement.open_amount(invoice)
        if value > open_amount:
            raise BillingError(
                f"Invoice {invoice} has {format_money(open_amount, invoice.currency)} open; "
                f"cannot credit {format_money(value, invoice.currency)}."
            )
        date = date or firm_today()
        if date < invoice.invoice_date:
            raise BillingError(
                f"A credit note cannot be dated before its invoice ({invoice.invoice_date})."
            )
        note = CreditNote(
            invoice=invoice,
            date=date,
            amount=value,
            currency=invoice.currency,
            reason=reason,
            created_by=user,
        )
        credit_note_check(note)  # SPEC 3.2: never issued as an invalid e-invoice
        seq, number = numbering.take_number(series=numbering.CREDIT_NOTE, year=date.year)
        note.number, note.number_year, note.number_seq = number, date.year, seq
        note.pdf.save(f"{number}.pdf", ContentFile(credit_note_pdf(note)), save=False)
        with_user(note, user).save()
    return note
