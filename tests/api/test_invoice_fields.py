"""The invoice summary columns come in one order in the API and in the invoice list's CSV
(invoicing.models.INVOICE_SUMMARY, written once)."""

from __future__ import annotations

import csv
import io

SUMMARY = [
    "account_id", "account_name", "currency", "po_number", "period", "invoice_date",
    "due_date", "net", "tax", "total", "open_amount",
]  # fmt: skip


def test_api_and_csv_show_the_summary_columns_in_the_same_order(
    api_for, client_for, auditor, world
):
    body = api_for(auditor).get(f"/api/v1/invoices/{world.approved.pk}/").json()
    assert list(body)[:15] == ["id", "number", "status", *SUMMARY, "disputed"]
    assert (body["account_id"], body["open_amount"]) == ("ACC-1", "600.00")
    response = client_for(auditor).get("/invoices/all/?format=csv")
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert header == ["id", "number", "status", "disputed", *SUMMARY, "sent_at", "sent_to"]
