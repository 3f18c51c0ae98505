"""Small worlds for the record screens (issue 15): final invoices made as approval makes them."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from invoicing.models import Invoice
from tests.factories import InvoiceFactory, InvoiceLineFactory


def final_invoice(
    *,
    account,
    seq: int,
    total: str,
    status: str = "approved",
    year: int = 2026,
    invoice_date: dt.date = dt.date(2026, 1, 31),
    due_date: dt.date = dt.date(2026, 3, 2),
    currency: str = "USD",
    **fields,
) -> Invoice:
    """An approved invoice with a stored PDF: lines on the draft first, then one UPDATE (the
    database refuses lines added to a final invoice)."""
    amount = Decimal(total)
    invoice = InvoiceFactory(
        account=account,
        currency=currency,
        period=invoice_date.replace(day=1),
        invoice_date=invoice_date,
        due_date=due_date,
        net=amount,
        total=amount,
        **fields,
    )
    InvoiceLineFactory(invoice=invoice, amount=amount, description="Consulting")
    number = f"INV-{year}-{seq:05d}"
    pdf = b"%PDF-1.4 test " + number.encode()
    path = default_storage.save(f"invoices/{number}.pdf", ContentFile(pdf))
    Invoice.objects.filter(pk=invoice.pk).update(
        status=status,
        number=number,
        number_year=year,
        number_seq=seq,
        pdf=path,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    invoice.refresh_from_db()
    return invoice
