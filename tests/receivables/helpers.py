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
