"""Builders for receivables tests: final invoices with numbers, without the invoice generator."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tests.factories import InvoiceFactory

_seq = {"n": 0}


def final_invoice(
    account,
    total="1000.00",
    due=dt.date(2026, 3, 2),
    *,
    invoice_date=None,
    currency="USD",
    status="approved",
    seq=None,
    **kwargs,
):
    """An approved invoice numbered INV-2026-NNNNN (sequence per test process)."""
    if seq is None:
        _seq["n"] += 1
        seq = _seq["n"]
    amount = Decimal(total)
    return InvoiceFactory(
        account=account,
        currency=currency,
        status=status,
        number=f"INV-2026-{seq:05d}",
        number_year=2026,
        number_seq=seq,
        net=amount,
        tax=Decimal("0.00"),
        total=amount,
        due_date=due,
        invoice_date=invoice_date or (due - dt.timedelta(days=30)),
        **kwargs,
    )


def invoice_with_lines(account, amounts, *, due=dt.date(2026, 3, 2), seq=None, **kwargs):
    """A final invoice with one time line per amount, built as approval does it: lines on the
    draft, then one UPDATE (the database refuses lines added to a final invoice)."""
    from invoicing.models import Invoice
    from tests.factories import InvoiceLineFactory

    values = [Decimal(a) for a in amounts]
    total = sum(values, Decimal("0.00"))
    if seq is None:
        _seq["n"] += 1
        seq = _seq["n"]
    invoice = InvoiceFactory(
        account=account,
        net=total,
        tax=Decimal("0.00"),
        total=total,
        due_date=due,
        invoice_date=due - dt.timedelta(days=30),
        **kwargs,
    )
    for position, amount in enumerate(values, start=1):
        InvoiceLineFactory(
            invoice=invoice,
            position=position,
            description=f"Consulting {position}",
            role="Engineer",
            amount=amount,
        )
    Invoice.objects.filter(pk=invoice.pk).update(
        status="approved", number=f"INV-2026-{seq:05d}", number_year=2026, number_seq=seq
    )
    invoice.refresh_from_db()
    return invoice
