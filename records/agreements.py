"""Reads for the agreement detail page: terms, rate card, cap and block use, milestones with
their billing, delivered hours by month, flags and invoices. A fixed number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth

from agreements.matching import covered_entries_q
from agreements.models import Agreement, Milestone
from agreements.pricing import round_up_minutes
from invoicing import generation as gen
from invoicing.models import BlockBilling, EntryBilling, Invoice
from receivables.selectors import annotate_open_amount
from timesheets.models import MS_PER_HOUR, Flag, TimeEntry

HOURS = Decimal("0.01")


def agreement_detail(pk: int) -> Agreement:
    return (
        Agreement.objects.select_related("account", "parent")
        .prefetch_related("role_rates", "children")
        .get(pk=pk)
    )


def matched_entries(agreement: Agreement) -> QuerySet[TimeEntry]:
    """Entries with the agreement's Project Code dated within its Start..End (SPEC 2 matching)."""
    return TimeEntry.objects.filter(
        covered_entries_q(
            project_code=agreement.project_code,
            start_date=agreement.start_date,
            end_date=agreement.end_date,
        )
    )


@dataclass(frozen=True)
class MonthHours:
    month: dt.date
    hours: Decimal
    billable: Decimal
    entries: int


def delivered_by_month(agreement: Agreement) -> list[MonthHours]:
    rows = (
        matched_entries(agreement)
        .annotate(month=TruncMonth("date"))
        .order_by()
        .values("month")
        .annotate(
            ms=Sum("duration_ms"),
            billable_ms=Coalesce(Sum("duration_ms", filter=Q(billable=True)), 0),
            n=Count("id"),
        )
        .order_by("month")
    )
    return [
        MonthHours(
            r["month"],
            (Decimal(r["ms"]) / MS_PER_HOUR).quantize(HOURS),
            (Decimal(r["billable_ms"]) / MS_PER_HOUR).quantize(HOURS),
            r["n"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Usage:
    limit: Decimal  # hours
    used: Decimal
    remaining: Decimal
    percent: Decimal


def _usage(limit: Decimal, used: Decimal) -> Usage:
    percent = (used * 100 / limit).quantize(Decimal("0.1")) if limit else Decimal("0")
    return Usage(limit, used, max(limit - used, Decimal("0.00")), percent)


def cap_usage(agreement: Agreement) -> Usage | None:
    """T&M Not To Exceed: rounded hours of the billable entries counted against the cap (less
    written-off entries and unreleased duplicates), as reconciliation counts them."""
    if (
        agreement.agreement_type != Agreement.Type.TIME_AND_MATERIALS
        or agreement.not_to_exceed_hours is None
    ):
        return None
    durations = (
        matched_entries(agreement)
        .filter(billable=True)
        .exclude(flags__status=Flag.Status.WRITTEN_OFF)
        .exclude(flags__code=Flag.Code.DUPLICATE_ENTRY, flags__status=Flag.Status.OPEN)
        .values_list("duration_ms", flat=True)
    )
    minutes = sum(round_up_minutes(ms, agreement.billing_increment) for ms in durations)
    return _usage(Decimal(agreement.not_to_exceed_hours), (Decimal(minutes) / 60).quantize(HOURS))


@dataclass(frozen=True)
class Block:
    usage: Usage
    billed_on: Invoice | None
    overage_hours: Decimal


def block_balance(agreement: Agreement) -> Block | None:
    """Prepaid Hours: block size, hours drawn from it by billed entries, what is left."""
    if agreement.agreement_type != Agreement.Type.PREPAID_HOURS:
        return None
    sums = EntryBilling.objects.filter(agreement=agreement).aggregate(
        block=Coalesce(Sum("block_minutes"), 0), over=Coalesce(Sum("billed_minutes"), 0)
    )
    billing = BlockBilling.objects.filter(agreement=agreement).select_related("invoice").first()
    size = Decimal(agreement.hours_sold or 0)
    return Block(
        _usage(size, (Decimal(sums["block"]) / 60).quantize(HOURS)),
        billing.invoice if billing else None,
        (Decimal(sums["over"]) / 60).quantize(HOURS),
    )


@dataclass(frozen=True)
class MilestoneRow:
    milestone: Milestone
    amount: Decimal | None
    invoice: Invoice | None
    can_complete: bool


def milestone_rows(agreement: Agreement) -> list[MilestoneRow]:
    """Milestones with their amount (the last takes the remainder, SPEC 3) and billing."""
    milestones = list(
        Milestone.objects.filter(agreement=agreement)
        .select_related("completed_by", "billing__invoice")
        .order_by("position")
    )
    amounts: dict[int, Decimal] = {}
    if agreement.amount is not None:
        terms = [gen.MilestoneTerm(m.pk, m.position, m.name, m.percent) for m in milestones]
        amounts = gen.milestone_amounts(agreement.amount, terms)
    rows = []
    for ms in milestones:
        billing = getattr(ms, "billing", None)
        rows.append(
            MilestoneRow(
                ms,
                amounts.get(ms.pk),
                billing.invoice if billing else None,
                ms.due_date is None and ms.completed_on is None,
            )
        )
    return rows


def agreement_flags(agreement: Agreement) -> QuerySet[Flag]:
    return (
        Flag.objects.filter(agreement=agreement)
        .exclude(status=Flag.Status.RESOLVED)
        .select_related("actioned_by")
        .order_by("status", "code", "subject")
    )


def agreement_invoices(agreement: Agreement) -> QuerySet[Invoice]:
    ids = agreement.invoice_lines.values("invoice_id")
    return annotate_open_amount(
        Invoice.objects.filter(pk__in=ids).select_related("account")
    ).order_by("-invoice_date", "-id")


def entry_count(agreement: Agreement) -> int:
    return matched_entries(agreement).aggregate(n=Count("id"))["n"]
