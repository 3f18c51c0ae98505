"""Reads for the review screen: invoices of a period with open amounts, flags, one invoice."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import (
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from core import settlement
from core.expressions import in_subquery_by_index
from invoicing.models import (
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
)
from timesheets.models import Flag

# What the review's tables show of an invoice and its customer: not the parties JSON, notes,
# terms and the rest, which each row would otherwise fetch and decode (the detail page has them).
_SHOWN = (
    *("id", "account", "currency", "po_number", "period", "status", "number", "version"),
    *("net", "tax", "total", "sent_at", "sent_to", "disputed", "rejection_reason"),
    *("account__name", "account__external_id"),
)


def _of_period(period: dt.date, statuses: list[str]) -> QuerySet[Invoice]:
    return (
        Invoice.objects.filter(period=period.replace(day=1), status__in=statuses)
        .order_by("account__name", "account__external_id", "currency", "po_number", "id")
        .only(*_SHOWN)
    )


def period_counts(period: dt.date) -> dict[str, int]:
    """How many drafts and final invoices a period has, in one query (the review's two pagers):
    counted on `status` (never null), so an index-only scan of invoice_status_period answers."""
    final = sorted(Invoice.FINAL_STATUSES)
    return Invoice.objects.filter(
        period=period.replace(day=1), status__in=[Invoice.Status.DRAFT, *final]
    ).aggregate(
        drafts=Count("status", filter=Q(status=Invoice.Status.DRAFT)),
        final=Count("status", filter=Q(status__in=final)),
    )


def invoices_for_period(period: dt.date, statuses: list[str]) -> QuerySet[Invoice]:
    """Final invoices of a period with their open amounts (the review's approved table)."""
    return settlement.annotate(_of_period(period, statuses).select_related("account"))


def drafts_for_period(period: dt.date) -> QuerySet[Invoice]:
    """Drafts of a period with their line count (a correlated COUNT on the lines' invoice index,
    not a join grouped by every invoice column); a draft owes nothing yet, so no open amount."""
    lines = (
        InvoiceLine.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        _of_period(period, [Invoice.Status.DRAFT])
        .select_related("account", "adjusted_by")
        .only(*_SHOWN, "adjusted_by__username")
        .annotate(line_count=Coalesce(Subquery(lines, output_field=IntegerField()), 0))
    )


def rejected_for_period(period: dt.date) -> QuerySet[Invoice]:
    return _of_period(period, [Invoice.Status.REJECTED]).select_related("account")


def flagged_entries(invoice_ids: list[int]) -> dict[int, list[Flag]]:
    """invoice id -> flags (not resolved) on the entries it bills: warnings for the reviewer,
    e.g. entries released over a cap. The flags are found by entry id among the invoices'
    billings (index on timesheets_flag.entry_id), without joining the time entries."""
    if not invoice_ids:
        return {}
    billings = EntryBilling.objects.filter(invoice_id__in=invoice_ids).order_by()
    flags = (
        Flag.objects.filter(in_subquery_by_index("entry_id", billings.values("entry_id")))
        .exclude(status=Flag.Status.RESOLVED)
        .annotate(
            invoice_id=Subquery(
                EntryBilling.objects.filter(entry_id=OuterRef("entry_id")).values("invoice_id")[:1]
            )
        )
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
