"""Reads for receivables: unapplied cash, statements, dunning, payment lists.

The open amount of an invoice (now or as of a date) is `receivables/settlement.py`'s; it is
re-exported here for the screens that read it with the rest. All of it is set-based (correlated
subqueries on indexed foreign keys), never a loop per invoice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict, cast

from django.conf import settings
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
)

from agreements.models import Account
from core.money import ZERO
from invoicing.models import CreditNote, Invoice
from receivables.models import Allocation, Dispute, Payment, Reminder
from receivables.settlement import (  # the settlement rules; re-exported for the screens
    MONEY_FIELD,
    OpenAmount,
    annotate_open_amount,
    live_allocations,
    sum_subquery,
)
from receivables.settlement import (
    invoice_open_amount as invoice_open_amount,
)

FINAL_STATUSES = sorted(Invoice.FINAL_STATUSES)
STATEMENT_PAYMENT_DAYS = 90


class Unapplied(TypedDict):
    """What `annotate_unapplied` adds to each Payment row."""

    applied: Decimal
    unapplied: Decimal


class AgingFacts(OpenAmount):
    """What `aging_invoices` adds to each invoice, as of its date, for the drill-down."""

    days_past_due: int
    settled: Decimal
    live_allocations: list[Allocation]
    credit_notes_as_of: list[CreditNote]


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from receivables.settlement import SettledInvoice

    UnappliedPayment = WithAnnotations[Payment, Unapplied]
    AgingInvoice = WithAnnotations[Invoice, AgingFacts]


def annotate_unapplied(
    qs: QuerySet[Payment], as_of: dt.date | None = None
) -> QuerySet[UnappliedPayment]:
    """Adds `applied` and `unapplied` to a Payment queryset."""
    return qs.annotate(applied=sum_subquery(live_allocations(as_of), "payment")).annotate(
        unapplied=ExpressionWrapper(F("amount") - F("applied"), output_field=MONEY_FIELD)
    )


def final_invoices() -> QuerySet[Invoice]:
    return Invoice.objects.filter(status__in=FINAL_STATUSES)


def payment_unapplied(payment: Payment, as_of: dt.date | None = None) -> Decimal:
    unapplied: Decimal = (
        annotate_unapplied(Payment.objects.filter(pk=payment.pk), as_of)
        .values_list("unapplied", flat=True)
        .get()
    )
    return unapplied


def open_invoices(*, account: Account, currency: str) -> QuerySet[SettledInvoice]:
    """Final invoices of an account in a currency with something open now, oldest due first."""
    return (
        annotate_open_amount(final_invoices().filter(account=account, currency=currency))
        .filter(open_amount__gt=ZERO)
        .order_by("due_date", "number")
    )


def payment_list(
    *,
    q: str = "",
    account: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    unapplied_only: bool = False,
    unassigned_only: bool = False,
) -> QuerySet[UnappliedPayment]:
    qs = annotate_unapplied(Payment.objects.select_related("account"))
    if unassigned_only:
        qs = qs.filter(account__isnull=True)
    if q:
        qs = qs.filter(
            Q(external_id__icontains=q) | Q(reference__icontains=q) | Q(method__icontains=q)
        )
    if account:
        qs = qs.filter(
            Q(account__external_id__iexact=account) | Q(account__name__icontains=account)
        )
    if date_from:
        qs = qs.filter(date__gte=date_from)
    if date_to:
        qs = qs.filter(date__lte=date_to)
    if unapplied_only:
        qs = qs.filter(unapplied__gt=ZERO)
    return qs.order_by("-date", "-id")


@dataclass
class UnappliedRow:
    account: Account
    currency: str
    amount: Decimal
    payments: list[Payment] = field(default_factory=list)


def unapplied_cash() -> list[UnappliedRow]:
    """Unapplied cash now, per (account, currency), with the payments holding it. Unassigned
    payments count for no account (SPEC 1.4): they are listed by `unassigned_payments`."""
    payments = (
        annotate_unapplied(Payment.objects.select_related("account"))
        .filter(unapplied__gt=ZERO, account__isnull=False)
        .order_by("account__name", "account__external_id", "currency", "date", "id")
    )
    rows: dict[tuple[int, str], UnappliedRow] = {}
    for payment in payments:
        if payment.account is None:  # never: filtered out above
            continue
        key = (payment.account.pk, payment.currency)
        if key not in rows:
            rows[key] = UnappliedRow(payment.account, payment.currency, ZERO)
        rows[key].amount += payment.unapplied
        rows[key].payments.append(payment)
    return list(rows.values())


def unassigned_payments() -> QuerySet[Payment]:
    """Statement credits whose payer was not recognised, oldest first: finance assigns them."""
    return Payment.objects.filter(account__isnull=True).order_by("date", "id")


def aging_invoices(*, account: Account, currency: str, as_of: dt.date) -> list[AgingInvoice]:
    """The drill-down of one aging row: invoices open as of D with their allocations as of D."""
    invoices = cast(
        "list[AgingInvoice]",  # OpenAmount from the query; the loop at the end sets the rest
        list(
            annotate_open_amount(
                final_invoices().filter(
                    account=account, currency=currency, invoice_date__lte=as_of
                ),
                as_of,
            )
            .exclude(open_amount=ZERO)
            .order_by("due_date", "number")
        ),
    )
    allocations = (
        live_allocations(as_of)
        .filter(invoice__in=[i.pk for i in invoices])
        .select_related("payment")
        .order_by("date", "id")
    )
    by_invoice: dict[int, list[Allocation]] = {}
    for allocation in allocations:
        by_invoice.setdefault(allocation.invoice_id, []).append(allocation)
    credits = CreditNote.objects.filter(invoice__in=[i.pk for i in invoices], date__lte=as_of)
    credits_by_invoice: dict[int, list[CreditNote]] = {}
    for note in credits.order_by("date", "number"):
        credits_by_invoice.setdefault(note.invoice_id, []).append(note)
    for invoice in invoices:
        invoice.days_past_due = (as_of - invoice.due_date).days
        invoice.settled = invoice.allocated + invoice.credited
        invoice.live_allocations = by_invoice.get(invoice.pk, [])
        invoice.credit_notes_as_of = credits_by_invoice.get(invoice.pk, [])
    return invoices


def aging_payments(*, account: Account, currency: str, as_of: dt.date) -> list[UnappliedPayment]:
    """Payments of the row dated on or before D that still held unapplied cash on D."""
    return list(
        annotate_unapplied(
            Payment.objects.filter(account=account, currency=currency, date__lte=as_of), as_of
        )
        .exclude(unapplied=ZERO)
        .order_by("date", "id")
    )


@dataclass
class StatementSection:
    currency: str
    invoices: list[AgingInvoice]
    payments: list[UnappliedPayment]
    open_total: Decimal
    unapplied_total: Decimal

    @property
    def balance(self) -> Decimal:
        return self.open_total - self.unapplied_total


def customer_statement(*, account: Account, as_of: dt.date) -> list[StatementSection]:
    """Per currency: open invoices as of D, the payments of the last STATEMENT_PAYMENT_DAYS days
    up to D plus older ones still holding unapplied cash on D, and unapplied cash as of D."""
    currencies = sorted(
        set(
            final_invoices()
            .filter(account=account, invoice_date__lte=as_of)
            .values_list("currency", flat=True)
            .distinct()
        )
        | set(
            Payment.objects.filter(account=account, date__lte=as_of)
            .values_list("currency", flat=True)
            .distinct()
        )
    )
    sections = []
    for currency in currencies:
        invoices = aging_invoices(account=account, currency=currency, as_of=as_of)
        payments = list(
            annotate_unapplied(
                Payment.objects.filter(account=account, currency=currency, date__lte=as_of), as_of
            )
            .filter(
                Q(date__gt=as_of - dt.timedelta(days=STATEMENT_PAYMENT_DAYS)) | ~Q(unapplied=ZERO)
            )
            .order_by("-date", "-id")
        )
        open_total = sum((i.open_amount for i in invoices), ZERO)
        unapplied_total = sum((p.unapplied for p in payments), ZERO)
        if not invoices and unapplied_total == 0 and not payments:
            continue
        sections.append(StatementSection(currency, invoices, payments, open_total, unapplied_total))
    return sections


def dunning_levels() -> list[int]:
    return sorted({int(level) for level in settings.BILLING_DUNNING_DAYS if int(level) >= 0})


def dunning_candidates(
    as_of: dt.date, invoice_ids: list[int] | None = None
) -> QuerySet[SettledInvoice]:
    """Final, not disputed invoices open now (> 0), not fully credited, past the first level on D.

    "Open now" uses every payment recorded so far: a customer who has paid is never reminded,
    even when the run is for an earlier day.
    """
    levels = dunning_levels()
    if not levels:
        return annotate_open_amount(Invoice.objects.none())
    latest_due = as_of - dt.timedelta(days=levels[0])
    qs = final_invoices().filter(disputed=False, due_date__lte=latest_due)
    if invoice_ids is not None:
        qs = qs.filter(pk__in=invoice_ids)
    return (
        annotate_open_amount(qs)
        .filter(open_amount__gt=ZERO, credited__lt=F("total"))
        .select_related("account")
        .order_by("due_date", "number")
    )


@dataclass(frozen=True)
class DueReminder:
    invoice: SettledInvoice
    level: int  # the level that is mailed
    skipped_levels: tuple[int, ...]  # lower levels due at the same time, recorded as superseded
    days_past_due: int


def dunning_due(as_of: dt.date, invoice_ids: list[int] | None = None) -> list[DueReminder]:
    """What a dunning run on D would send: per invoice, the highest due level not yet recorded."""
    levels = dunning_levels()
    candidates = list(dunning_candidates(as_of, invoice_ids))
    recorded: dict[int, set[int]] = {}
    for invoice_id, level in Reminder.objects.filter(
        invoice__in=[i.pk for i in candidates]
    ).values_list("invoice_id", "level"):
        recorded.setdefault(invoice_id, set()).add(level)
    due = []
    for invoice in candidates:
        days = (as_of - invoice.due_date).days
        done = recorded.get(invoice.pk, set())
        pending = [lvl for lvl in levels if lvl <= days and lvl not in done]
        # A higher level already recorded covers the lower ones (e.g. after a settings change).
        pending = [lvl for lvl in pending if not any(d > lvl for d in done)]
        if pending:
            due.append(DueReminder(invoice, pending[-1], tuple(pending[:-1]), days))
    return due


def reminder_list(*, q: str = "") -> QuerySet[Reminder]:
    qs = Reminder.objects.select_related("invoice", "invoice__account")
    if q:
        qs = qs.filter(Q(invoice__number__icontains=q) | Q(invoice__account__name__icontains=q))
    return qs.order_by("-sent_on", "-id")


# --- disputes ------------------------------------------------------------------------------------

CLOSED_DISPUTE_STATUSES = sorted(
    set(Dispute.Status.values) - Dispute.OPEN_STATUSES - {Dispute.Status.WITHDRAWN}
)


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5): works on intervals as on numbers."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def open_dispute(invoice: Invoice) -> Dispute | None:
    return invoice.disputes.filter(status__in=Dispute.OPEN_STATUSES).first()


def dispute_list(*, status: str = "open", q: str = "", account: Account | None = None):
    """Disputes, oldest first when open; `status` is a Dispute status, "open" (open and awaiting
    approval), "closed" or "" for all."""
    qs = Dispute.objects.select_related("invoice", "invoice__account", "credit_note")
    if status == "open":
        qs = qs.filter(status__in=Dispute.OPEN_STATUSES)
    elif status == "closed":
        qs = qs.exclude(status__in=Dispute.OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(invoice__number__icontains=q) | Q(invoice__account__name__icontains=q))
    if account is not None:
        qs = qs.filter(invoice__account=account)
    order = ["opened_at", "id"] if status == "open" else ["-opened_at", "-id"]
    return qs.order_by(*order)


@dataclass(frozen=True)
class DisputeAge:
    age_days: int
    sla_days: int
    days_left: int  # negative: past the SLA
    within_sla: bool


def dispute_age(dispute: Dispute, now: dt.datetime | None = None) -> DisputeAge:
    """Age in whole days against the SLA: until resolution for a closed dispute, else until now."""
    from django.utils import timezone

    end = dispute.resolved_at or now or timezone.now()
    age = end - dispute.opened_at
    left = dispute.sla_due_at - end
    return DisputeAge(
        age_days=age.days,
        sla_days=dispute.sla_days,
        days_left=left.days,
        within_sla=end <= dispute.sla_due_at,
    )


@dataclass(frozen=True)
class DisputeKpis:
    open_count: int
    open_past_sla: int
    resolved_count: int
    median_resolution_days: Decimal | None
    within_sla_percent: Decimal | None
    credited: list[dict]  # {"category", "label", "currency", "amount", "count"}


def dispute_kpis(now: dt.datetime | None = None) -> DisputeKpis:
    """Open count, median resolution time, share resolved within SLA, credited amount by category
    (withdrawn disputes count as neither resolved nor credited). Two queries."""
    from django.utils import timezone

    from core.money import round_money
    from receivables.disputes import category_label

    now = now or timezone.now()
    is_open = Q(status__in=sorted(Dispute.OPEN_STATUSES))
    is_resolved = Q(status__in=CLOSED_DISPUTE_STATUSES)
    counts = Dispute.objects.aggregate(
        open=Count("id", filter=is_open),
        late=Count("id", filter=is_open & Q(sla_due_at__lt=now)),
        resolved=Count("id", filter=is_resolved),
        within=Count("id", filter=is_resolved & Q(resolved_at__lte=F("sla_due_at"))),
        median=Median(
            ExpressionWrapper(F("resolved_at") - F("opened_at"), output_field=DurationField()),
            filter=is_resolved,
            output_field=DurationField(),
        ),
    )
    median = None
    if counts["median"] is not None:
        median = round_money(Decimal(counts["median"].total_seconds()) / Decimal(86400))
    within = None
    if counts["resolved"]:
        within = round_money(Decimal(100 * counts["within"]) / Decimal(counts["resolved"]))
    credited = [
        {**row, "label": category_label(row["category"])}
        for row in Dispute.objects.filter(credit_note__isnull=False)
        .values("category", currency=F("credit_note__currency"))
        .annotate(amount=Sum("credit_note__amount"), count=Count("id"))
        .order_by("category", "currency")
    ]
    return DisputeKpis(
        open_count=counts["open"],
        open_past_sla=counts["late"],
        resolved_count=counts["resolved"],
        median_resolution_days=median,
        within_sla_percent=within,
        credited=credited,
    )


def payment_export_rows() -> list[dict]:
    """Every payment for `export_payments` (SPEC 5), oldest first, with its live allocations
    (reversed ones are left out: they no longer apply). Decimals as 2-place strings, dates ISO,
    account_id None while unassigned. Two queries whatever the number of payments."""
    payments = list(Payment.objects.select_related("account").order_by("date", "external_id", "id"))
    allocations: dict[int, list[dict]] = {}
    for payment_id, number, amount, date in (
        live_allocations()
        .order_by("date", "id")
        .values_list("payment_id", "invoice__number", "amount", "date")
    ):
        allocations.setdefault(payment_id, []).append(
            {"invoice_number": number, "amount": f"{amount:.2f}", "date": date.isoformat()}
        )
    return [
        {
            "payment_id": p.external_id,
            "date": p.date.isoformat(),
            "account_id": p.account.external_id if p.account else None,
            "amount": f"{p.amount:.2f}",
            "currency": p.currency,
            "reference": p.reference,
            "method": p.method,
            "source": p.source,
            "allocations": allocations.get(p.pk, []),
        }
        for p in payments
    ]
