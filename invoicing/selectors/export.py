"""Every invoice with its lines and entry IDs, for export_invoices."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import (
    Prefetch,
    QuerySet,
)

from core import settlement
from invoicing.models import (
    EntryBilling,
    Invoice,
    InvoiceLine,
)
from timesheets.ordering import entry_key


def invoices_for_export(status: str | None = None) -> QuerySet[Invoice]:
    """Every invoice with its lines and entry IDs, in a fixed number of queries."""
    qs = Invoice.objects.all()
    if status:
        qs = qs.filter(status=status)
    return (
        settlement.annotate(qs)
        .select_related("account")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("agreement").prefetch_related(
                    Prefetch(
                        "entry_billings",
                        queryset=EntryBilling.objects.select_related("entry").only(
                            "id",
                            "line_id",
                            "entry__external_id",
                            "entry__external_number",
                            "entry__date",
                        ),
                    )
                ),
            ),
            Prefetch(
                "entry_billings",
                queryset=EntryBilling.objects.select_related("entry").only(
                    "id",
                    "invoice_id",
                    "entry__external_id",
                    "entry__external_number",
                    "entry__date",
                ),
            ),
        )
        .order_by("id")
    )


def _entry_sort_key(eb: EntryBilling) -> tuple:
    e = eb.entry
    return entry_key(e.date, e.external_id, e.external_number)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else f"{value}"


def invoice_export_rows(status: str | None = None) -> list[dict]:
    """SPEC 5 `export_invoices`: every invoice with its lines and entry IDs; decimals as strings.
    A fixed number of queries whatever the number of invoices (prefetch)."""
    rows = []
    for inv in invoices_for_export(status):
        lines = []
        for line in inv.lines.all():
            timed = line.kind in (InvoiceLine.Kind.TIME,)
            lines.append(
                {
                    "agreement_id": line.agreement.external_id if line.agreement else None,
                    "description": line.description,
                    "role": line.role,
                    "hours": _dec(line.hours) if timed else None,
                    "rate": _dec(line.rate) if timed else None,
                    "amount": _dec(line.amount),
                    "tax_rate": _dec(line.tax_rate),
                    "entry_ids": [
                        eb.entry.external_id
                        for eb in sorted(line.entry_billings.all(), key=_entry_sort_key)
                    ],
                }
            )
        rows.append(
            {
                "id": inv.pk,
                "number": inv.number,
                "status": inv.status,
                "account_id": inv.account.external_id,
                "currency": inv.currency,
                "po_number": inv.po_number,
                "period": f"{inv.period:%Y-%m}",
                "invoice_date": inv.invoice_date.isoformat(),
                "due_date": inv.due_date.isoformat(),
                "net": _dec(inv.net),
                "tax": _dec(inv.tax),
                "total": _dec(inv.total),
                "open_amount": _dec(inv.open_amount),  # type: ignore[attr-defined]
                "lines": lines,
                "entry_ids": [
                    eb.entry.external_id
                    for eb in sorted(inv.entry_billings.all(), key=_entry_sort_key)
                ],
            }
        )
    return rows
