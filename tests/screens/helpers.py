"""Small worlds for the record screens (issue 15): final invoices made as approval makes them."""

from __future__ import annotations

import datetime as dt

from invoicing.models import Invoice
from tests.world import invoice_with_lines


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
    """The screens' final invoice: `tests.world.invoice_with_lines` with one line of `total`, a
    stored PDF, dated 31 January 2026 unless told (its period is that month)."""
    return invoice_with_lines(
        account,
        [total],
        seq=seq,
        year=year,
        status=status,
        due=due_date,
        invoice_date=invoice_date,
        period=invoice_date.replace(day=1),
        currency=currency,
        pdf=True,
        **fields,
    )
