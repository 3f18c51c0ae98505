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


def csv_download(response) -> list[list[str]]:
    """The rows of a streamed CSV download (core.listing.csv_response), header first."""
    import csv
    import io

    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def queries_of(client, url: str) -> int:
    """How many queries a GET costs, a streamed download read to its end included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        if response.streaming:
            b"".join(response.streaming_content)
    return len(ctx.captured_queries)
