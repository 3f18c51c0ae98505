"""Settlement of an invoice (SPEC 4), owned by receivables: the open amount as of a date, the
payment status (paid / partially paid / open) and the disputed state. One rule, one place: the
Python form and the SQL/ORM form of each stand side by side here, and
`tests/receivables/test_settlement.py` checks on random data that they agree.

Open amount as of D = total - allocations dated <= D and not reversed as of D (reversed_on is
null or after D) - credit notes dated <= D. Without a date: every live allocation and every
credit note. A rejected invoice owes nothing: its open amount is 0.

Receivables is the only writer of `Invoice.status` for payment (`settlement_sync`) and of
`Invoice.disputed` / `dispute_reason` (`invoice_set_disputed`). Invoicing shows open amounts
without importing receivables: it asks `core.settlement`, to which `ReceivablesConfig.ready()`
hands `annotate_open_amount`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Case,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from core.money import ZERO, round_money
from invoicing.models import CreditNote, Invoice
from receivables.models import Allocation

MONEY_FIELD = DecimalField(max_digits=14, decimal_places=2)


class OpenAmount(TypedDict):
    """What `annotate_open_amount` adds to each Invoice row."""

    allocated: Decimal
    credited: Decimal
    open_amount: Decimal


class OpenTotal(NamedTuple):
    """What `open_totals` gives per currency."""

    invoices: int
    total: Decimal
    open: Decimal


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    SettledInvoice = WithAnnotations[Invoice, OpenAmount]

# --- what counts as of a date ------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationFact:
    amount: Decimal
    date: dt.date
    reversed_on: dt.date | None = None


@dataclass(frozen=True)
class CreditFact:
    amount: Decimal
    date: dt.date


def allocation_counts(a: AllocationFact, as_of: dt.date | None = None) -> bool:
    """Python form: made on or before `as_of` and not reversed then (no date: not reversed)."""
    if as_of is None:
        return a.reversed_on is None
    return a.date <= as_of and (a.reversed_on is None or a.reversed_on > as_of)


def credit_counts(c: CreditFact, as_of: dt.date | None = None) -> bool:
    return as_of is None or c.date <= as_of


def live_allocations(as_of: dt.date | None = None) -> QuerySet[Allocation]:
    """ORM form of `allocation_counts`."""
    qs = Allocation.objects.all()
    if as_of is None:
        return qs.filter(reversed_on__isnull=True)
    return qs.filter(date__lte=as_of).filter(Q(reversed_on__isnull=True) | Q(reversed_on__gt=as_of))


def counted_credit_notes(as_of: dt.date | None = None) -> QuerySet[CreditNote]:
    """ORM form of `credit_counts`."""
    qs = CreditNote.objects.all()
    return qs if as_of is None else qs.filter(date__lte=as_of)


# SQL form of the same two rules, for set-based reports (receivables/aging.py); `alias` is the
# table alias with its dot, the as-of date the named parameter %(d)s.
def live_allocation_sql(alias: str = "") -> str:
    return f"{alias}date <= %(d)s AND ({alias}reversed_on IS NULL OR {alias}reversed_on > %(d)s)"


def credit_counts_sql(alias: str = "") -> str:
    return f"{alias}date <= %(d)s"


# --- open amount ------------------------------------------------------------------------------


def open_amount(
    *,
    total: Decimal,
    status: str,
    allocations: Iterable[AllocationFact] = (),
    credits: Iterable[CreditFact] = (),
    as_of: dt.date | None = None,
) -> Decimal:
    """Python form of the open amount."""
    if status == Invoice.Status.REJECTED:
        return ZERO
    allocated = sum((a.amount for a in allocations if allocation_counts(a, as_of)), ZERO)
    credited = sum((c.amount for c in credits if credit_counts(c, as_of)), ZERO)
    return total - allocated - credited


def sum_subquery(qs: QuerySet[Any], key: str) -> Coalesce:
    """SUM(amount) of `qs` rows whose `key` is the outer row, 0.00 when there are none."""
    summed = qs.filter(**{key: OuterRef("pk")}).order_by().values(key).annotate(s=Sum("amount"))
    return Coalesce(
        Subquery(summed.values("s")[:1], output_field=MONEY_FIELD),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )


def annotate_open_amount(
    qs: QuerySet[Invoice], as_of: dt.date | None = None
) -> QuerySet[SettledInvoice]:
    """ORM form of the open amount: adds `allocated`, `credited` and `open_amount` to an Invoice
    queryset (correlated subqueries on indexed foreign keys, so the two sums never multiply each
    other's rows; never a loop per invoice)."""
    return qs.annotate(
        allocated=sum_subquery(live_allocations(as_of), "invoice"),
        credited=sum_subquery(counted_credit_notes(as_of), "invoice"),
    ).annotate(
        open_amount=Case(
            When(status=Invoice.Status.REJECTED, then=Value(ZERO)),
            default=F("total") - F("allocated") - F("credited"),
            output_field=MONEY_FIELD,
        )
    )


def open_totals(qs: QuerySet[Invoice], as_of: dt.date | None = None) -> dict[str, OpenTotal]:
    """Count, sum of totals and sum of `annotate_open_amount`'s open_amount of an Invoice
    queryset, per currency: the same rule set-based, in one query that scans the set's invoices
    once and joins the live allocations and counted credit notes summed per invoice, instead of
    two subqueries per invoice (29,000 invoices: 0.9 s under load)."""
    invoices = qs.order_by().values_list("pk", "currency", "total", "status")
    per_invoice = [
        rows.order_by()
        .values("invoice_id")
        .annotate(s=Sum("amount"))
        .values_list("invoice_id", "s")
        for rows in (live_allocations(as_of), counted_credit_notes(as_of))
    ]
    try:
        parts = [q.query.sql_with_params() for q in (invoices, *per_invoice)]
    except EmptyResultSet:  # qs.none(): a filter no invoice can match
        return {}
    (inv_sql, inv_params), (al_sql, al_params), (cn_sql, cn_params) = parts
    sql = f"""
        SELECT i.currency, COUNT(*), SUM(i.total),
               SUM(CASE WHEN i.status = %s THEN 0
                        ELSE i.total - COALESCE(a.s, 0) - COALESCE(c.s, 0) END)
        FROM ({inv_sql}) i (id, currency, total, status)
        LEFT JOIN ({al_sql}) a (invoice_id, s) ON a.invoice_id = i.id
        LEFT JOIN ({cn_sql}) c (invoice_id, s) ON c.invoice_id = i.id
        GROUP BY i.currency"""
    with connection.cursor() as cursor:
        cursor.execute(sql, (Invoice.Status.REJECTED, *inv_params, *al_params, *cn_params))
        return {
            currency: OpenTotal(n, round_money(total), round_money(open_sum))
            for currency, n, total, open_sum in cursor.fetchall()
        }


def invoice_open_amount(invoice: Invoice, as_of: dt.date | None = None) -> Decimal:
    amount: Decimal = (
        annotate_open_amount(Invoice.objects.filter(pk=invoice.pk), as_of)
        .values_list("open_amount", flat=True)
        .get()
    )
    return amount


# --- payment status ---------------------------------------------------------------------------


def payment_status(*, status: str, sent: bool, allocated: Decimal, open_amount: Decimal) -> str:
    """The status a final invoice has for its payments: paid when live allocations cover it
    (with its credit notes), partially paid when some do, else approved or sent as it was.
    Any other status (draft, rejected) is not receivables' to change."""
    if status not in Invoice.FINAL_STATUSES:
        return status
    if allocated > 0:
        return Invoice.Status.PAID if open_amount <= 0 else Invoice.Status.PARTIALLY_PAID
    return Invoice.Status.SENT if sent else Invoice.Status.APPROVED


def settlement_sync(*, invoice_ids: Iterable[int], user: Any) -> None:
    """The one writer of `Invoice.status` for payment: `partially_paid` / `paid` follow the live
    allocations, back to approved / sent when none remain. The caller holds the invoice locks."""
    for invoice in annotate_open_amount(Invoice.objects.filter(pk__in=list(invoice_ids))):
        status = payment_status(
            status=invoice.status,
            sent=invoice.sent_at is not None,
            allocated=invoice.allocated,
            open_amount=invoice.open_amount,
        )
        if status != invoice.status:
            invoice.status = status
            invoice._history_user = user  # type: ignore[attr-defined]
            invoice.save(update_fields=["status", "updated_at"])


# --- disputed ---------------------------------------------------------------------------------


def invoice_set_disputed(*, invoice: Invoice, reason: str, user: Any, customer: str = "") -> None:
    """The one writer of `Invoice.disputed` / `dispute_reason`: disputed while `reason` is set
    (automatic allocation and dunning skip it), cleared with an empty one. The caller holds the
    invoice lock; a customer's change is recorded as `portal: <e-mail>`."""
    invoice.disputed = bool(reason)
    invoice.dispute_reason = reason
    invoice._history_user = user  # type: ignore[attr-defined]
    if customer:
        invoice._change_reason = f"portal: {customer}"  # type: ignore[attr-defined]
    invoice.save(update_fields=["disputed", "dispute_reason", "updated_at"])
