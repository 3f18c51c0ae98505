"""Reads for the review screen: invoices of a period with open amounts, flags, one invoice."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import (
    F,
    Prefetch,
    QuerySet,
)

from core import settlement
from invoicing.models import (
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
)
from timesheets.models import Flag


def invoices_for_period(period: dt.date, statuses: list[str]) -> QuerySet[Invoice]:
    return settlement.annotate(
        Invoice.objects.filter(period=period.replace(day=1), status__in=statuses)
        .select_related("account", "adjusted_by", "approved_by")
        .order_by("account__name", "account__external_id", "currency", "po_number", "id")
    )


def flagged_entries(invoice_ids: list[int]) -> dict[int, list[Flag]]:
    """invoice id -> flags (not resolved) on the entries it bills: warnings for the reviewer,
    e.g. entries released over a cap."""
    flags = (
        Flag.objects.filter(entry__billing__invoice_id__in=invoice_ids)
        .exclude(status=Flag.Status.RESOLVED)
        .annotate(invoice_id=F("entry__billing__invoice_id"))
        .order_by("code", "subject")
    )
    result: dict[int, list[Flag]] = defaultdict(list)
    for f in flags:
        result[f.invoice_id].append(f)
    return result


def invoice_with_lines(pk: int) -> Invoice:
    return (
        settlement.annotate(Invoice.objects.filter(pk=pk))
        .select_related("account", "adjusted_by", "approved_by", "rejected_by")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related(
                    "agreement", "adjusted_by"
                ).prefetch_related(
                    Prefetch(
                        "entry_billings",
                        queryset=EntryBilling.objects.select_related("entry__employee").order_by(
                            "entry__date", "entry__external_id"
                        ),
                    )
                ),
            ),
            "credit_notes",
        )
        .get()
    )


def latest_run(period: dt.date) -> InvoiceRun | None:
    return (
        InvoiceRun.objects.filter(period=period.replace(day=1))
        .order_by("-created_at", "-id")
        .first()
    )
