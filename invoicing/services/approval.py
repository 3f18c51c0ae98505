"""Approval of a draft: the version reviewed, four eyes, the number, entries locked (SPEC 3);
the final PDF is rendered after commit by a worker (`invoice_pdf_store`)."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core.dates import firm_today
from core.errors import BillingError
from invoicing import numbering
from invoicing.einvoice.checks import einvoice_parties_for_approval
from invoicing.models import Invoice, InvoiceAdjustment
from invoicing.pdf import invoice_pdf
from invoicing.services.common import lock_draft, with_user
from invoicing.tasks import render_invoice_pdf_task
from timesheets.models import TimeEntry


def _check_approvable(invoice: Invoice, *, user, version: int) -> None:
    """The refusals of SPEC 3, on the locked draft."""
    if version != invoice.version:
        raise BillingError(
            f"Draft #{invoice.pk} changed since you opened it; review again "
            f"(you saw version {version}, it is now version {invoice.version})."
        )
    # Every user who changed the draft, not only the last one (four eyes).
    if InvoiceAdjustment.objects.filter(invoice=invoice, user=user).exists():
        raise BillingError(
            f"You adjusted draft #{invoice.pk}; another billing admin must approve it."
        )
    today = firm_today()
    if invoice.invoice_date > today:
        raise BillingError(
            f"Draft #{invoice.pk} is dated {invoice.invoice_date:%Y-%m-%d}, after today "
            f"({today:%Y-%m-%d}); it cannot be approved yet."
        )
    if not invoice.lines.exists():
        raise BillingError(f"Draft #{invoice.pk} has no lines.")
    if invoice.total < 0:
        raise BillingError(f"Draft #{invoice.pk} has a negative total; adjust it first.")


def invoice_approve(*, invoice: Invoice, user, version: int) -> Invoice:
    """Approve the draft as it was at `version` (what the approver saw): the next gapless
    INV-YYYY-NNNNN, entries locked, frozen. The final PDF is rendered by a worker after commit;
    until it is stored the invoice is `rendering` and cannot be sent.

    The number is taken last, so the (series, year) row lock is held only for the UPDATE of the
    invoice and the commit, not while entries are locked or anything is rendered. A rollback
    gives the number back (gapless)."""
    if user is None:
        raise BillingError("An invoice is approved by a person.")
    with transaction.atomic():
        invoice = lock_draft(invoice, "approved")
        _check_approvable(invoice, user=user, version=version)
        invoice.parties = einvoice_parties_for_approval(invoice)
        entries = list(TimeEntry.objects.filter(billing__invoice=invoice, locked=False))
        for entry in entries:
            entry.locked = True
        if entries:
            bulk_update_with_history(
                entries, TimeEntry, ["locked"], batch_size=1000, default_user=user
            )
        year = invoice.invoice_date.year
        seq, number = numbering.take_number(series=numbering.INVOICE, year=year)
        invoice.number, invoice.number_year, invoice.number_seq = number, year, seq
        invoice.status = Invoice.Status.APPROVED
        invoice.approved_by = user
        invoice.approved_at = timezone.now()
        with_user(invoice, user).save()
        pk = invoice.pk
        # robust: a broker that is down must not turn a committed approval into an error; the
        # stale-work sweep (invoicing.recovery) sends the render again.
        transaction.on_commit(lambda: render_invoice_pdf_task.delay(pk), robust=True)
    return invoice


def invoice_pdf_store(*, invoice_id: int) -> Invoice | None:
    """Render and store the final PDF of an approved invoice, once. Idempotent: an invoice that
    has its PDF already (a second delivery) is left as it is. Renders outside any lock; the
    conditional UPDATE decides which of two concurrent renders is kept."""
    invoice = Invoice.objects.select_related("account").filter(pk=invoice_id).first()
    if invoice is None or not invoice.is_final or invoice.pdf:
        return invoice
    pdf = invoice_pdf(invoice)
    storage = invoice.pdf.storage
    name = storage.save(f"invoices/{invoice.number}.pdf", ContentFile(pdf))
    stored = Invoice.objects.filter(pk=invoice_id, pdf="").update(
        pdf=name, pdf_sha256=hashlib.sha256(pdf).hexdigest()
    )
    if not stored:  # another delivery stored its copy first
        storage.delete(name)
    invoice.refresh_from_db()
    return invoice
