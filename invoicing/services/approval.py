"""Approval of a draft: number, final PDF with its hash, entries locked (SPEC 3)."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core.errors import BillingError
from invoicing import numbering
from invoicing.einvoice.checks import einvoice_parties_for_approval
from invoicing.models import Invoice
from invoicing.pdf import invoice_pdf
from invoicing.services.common import lock_draft, with_user
from timesheets.models import TimeEntry


def invoice_approve(*, invoice: Invoice, user) -> Invoice:
    """Approve a draft: the next gapless INV-YYYY-NNNNN (taken in this transaction, so a
    rollback gives it back), the final PDF stored with its SHA-256, entries locked, frozen."""
    if user is None:
        raise BillingError("An invoice is approved by a person.")
    with transaction.atomic():
        invoice = lock_draft(invoice, "approved")
        if invoice.adjusted_by_id is not None and invoice.adjusted_by_id == user.pk:
            raise BillingError(
                f"You adjusted draft #{invoice.pk}; another billing admin must approve it."
            )
        if not invoice.lines.exists():
            raise BillingError(f"Draft #{invoice.pk} has no lines.")
        if invoice.total < 0:
            raise BillingError(f"Draft #{invoice.pk} has a negative total; adjust it first.")
        invoice.parties = einvoice_parties_for_approval(invoice)
        year = invoice.invoice_date.year
        seq, number = numbering.take_number(series=numbering.INVOICE, year=year)
        invoice.number, invoice.number_year, invoice.number_seq = number, year, seq
        invoice.status = Invoice.Status.APPROVED
        invoice.approved_by = user
        invoice.approved_at = timezone.now()
        pdf = invoice_pdf(invoice)
        invoice.pdf.save(f"{number}.pdf", ContentFile(pdf), save=False)
        invoice.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
        with_user(invoice, user).save()
        entries = list(TimeEntry.objects.filter(billing__invoice=invoice, locked=False))
        for entry in entries:
            entry.locked = True
        if entries:
            bulk_update_with_history(
                entries, TimeEntry, ["locked"], batch_size=1000, default_user=user
            )
    return invoice
