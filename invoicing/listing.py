"""The invoice list across every period (issue 15): filters, sorting, totals of the filtered set
and the CSV of it. Reads only; bulk sending goes through services.invoice_send."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from core import settlement
from core.dates import firm_today
from core.listing import DateRangeForm, clean_sort, iso
from core.money import format_amount
from invoicing.models import INVOICE_SUMMARY, Invoice

UNPAID_FINAL = ("approved", "sent", "partially_paid")
STATUS_FILTERS = (
    ("", "Any status"),
    ("draft", "Draft"),
    ("approved", "Approved"),
    ("sent", "Sent"),
    ("partially_paid", "Partially paid"),
    ("paid", "Paid"),
    ("overdue", "Overdue"),
    ("disputed", "Disputed"),
    ("rejected", "Rejected"),
)
SORTS = {
    "number": ["number", "id"],
    "date": ["invoice_date", "number", "id"],
    "due": ["due_date", "number", "id"],
    "customer": ["account__name", "account__external_id", "invoice_date", "id"],
    "total": ["total", "id"],
    "open": ["open_amount", "id"],
    "status": ["status", "invoice_date", "id"],
}
DEFAULT_SORT = "-date"


class InvoiceFilterForm(DateRangeForm):
    q = forms.CharField(required=False, label="Search", max_length=100)
    status = forms.ChoiceField(required=False, choices=STATUS_FILTERS)
    customer = forms.CharField(required=False, max_length=100)
    account = forms.IntegerField(required=False, widget=forms.HiddenInput)
    amount_min = forms.DecimalField(
        required=False, label="Total from", max_digits=14, decimal_places=2
    )
    amount_max = forms.DecimalField(
        required=False, label="Total to", max_digits=14, decimal_places=2
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date_from"].label = "Dated from"
        self.fields["date_to"].label = "Dated to"
        self.fields["q"].widget.attrs["placeholder"] = "Number, customer or PO"
        self.fields["customer"].widget.attrs["placeholder"] = "Name or Account ID"


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    count: int
    total: Decimal
    open: Decimal


def filtered_invoices(data: dict[str, Any], *, today: dt.date | None = None) -> QuerySet[Invoice]:
    """The invoices matching cleaned InvoiceFilterForm data, with `open_amount`, unordered."""
    qs = settlement.annotate(Invoice.objects.select_related("account"))
    q = (data.get("q") or "").strip()
    if q:
        match = Q(number__icontains=q) | Q(account__name__icontains=q) | Q(po_number__icontains=q)
        match |= Q(account__external_id__iexact=q)
        digits = q.lstrip("#").removeprefix("Draft #").strip()
        if digits.isdigit():
            match |= Q(pk=int(digits))
        qs = qs.filter(match)
    status = data.get("status") or ""
    if status == "overdue":
        qs = qs.filter(
            status__in=UNPAID_FINAL, due_date__lt=today or firm_today(), open_amount__gt=0
        )
    elif status == "disputed":
        qs = qs.filter(disputed=True)
    elif status:
        qs = qs.filter(status=status)
    customer = (data.get("customer") or "").strip()
    if customer:
        qs = qs.filter(
            Q(account__name__icontains=customer) | Q(account__external_id__iexact=customer)
        )
    if data.get("account"):
        qs = qs.filter(account_id=data["account"])
    if data.get("date_from"):
        qs = qs.filter(invoice_date__gte=data["date_from"])
    if data.get("date_to"):
        qs = qs.filter(invoice_date__lte=data["date_to"])
    if data.get("amount_min") is not None:
        qs = qs.filter(total__gte=data["amount_min"])
    if data.get("amount_max") is not None:
        qs = qs.filter(total__lte=data["amount_max"])
    return qs


def sorted_invoices(qs: QuerySet[Invoice], sort: str | None) -> tuple[str, QuerySet[Invoice]]:
    key, order = clean_sort(sort, SORTS, DEFAULT_SORT)
    return key, qs.order_by(*order)


def totals_by_currency(qs: QuerySet[Invoice]) -> list[CurrencyTotal]:
    """Count, total and open amount of the filtered set per currency: three grouped sums
    (receivables' `open_totals`), never the open amount of each invoice."""
    sums = settlement.totals(qs)
    return [CurrencyTotal(c, *sums[c]) for c in sorted(sums)]


CSV_HEADER = ("id", "number", "status", "disputed", *INVOICE_SUMMARY, "sent_at", "sent_to")


def csv_rows(qs: QuerySet[Invoice]) -> Any:
    for inv in qs.iterator(chunk_size=2000):
        yield (
            inv.pk,
            inv.number or "",
            inv.status,
            "yes" if inv.disputed else "no",
            inv.account.external_id,
            inv.account.name,
            inv.currency,
            inv.po_number,
            f"{inv.period:%Y-%m}",
            iso(inv.invoice_date),
            iso(inv.due_date),
            format_amount(inv.net),
            format_amount(inv.tax),
            format_amount(inv.total),
            format_amount(inv.open_amount),
            inv.sent_at.isoformat() if inv.sent_at else "",
            inv.sent_to,
        )
