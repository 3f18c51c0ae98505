"""Reads for the portal. Every query starts from the contact's account: a contact reaches
nothing of another account (a foreign id is simply not found)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from core.dates import firm_today
from core.money import ZERO
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceLine
from portal.models import Contact, PaymentNotice, PortalAccount
from receivables import selectors as ar
from receivables.aging import BUCKETS, bucket_of
from receivables.models import Dispute, DisputeAttachment
from timesheets.ordering import entry_order_by


def invoices(contact: Contact) -> QuerySet[Invoice]:
    """The account's final invoices (never drafts or rejected ones), with open amounts."""
    return ar.annotate_open_amount(
        ar.final_invoices().filter(account_id=contact.account_id)
    ).order_by("-invoice_date", "-number")


def credit_notes(contact: Contact) -> QuerySet[CreditNote]:
    return (
        CreditNote.objects.filter(invoice__account_id=contact.account_id)
        .select_related("invoice")
        .order_by("-date", "-number")
    )


def disputes(contact: Contact) -> QuerySet[Dispute]:
    return Dispute.objects.filter(invoice__account_id=contact.account_id).select_related(
        "invoice", "credit_note"
    )


def dispute_thread(dispute: Dispute):
    """The messages a customer sees: everything but staff-internal notes."""
    return (
        dispute.messages.filter(internal=False)
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def attachment(contact: Contact, pk: int) -> DisputeAttachment | None:
    return (
        DisputeAttachment.objects.filter(
            pk=pk,
            message__internal=False,
            message__dispute__invoice__account_id=contact.account_id,
        )
        .select_related("message")
        .first()
    )


def shows_entries(contact: Contact) -> bool:
    return PortalAccount.objects.filter(account_id=contact.account_id, show_entries=True).exists()


def invoice_lines(invoice: Invoice, *, with_entries: bool) -> list[InvoiceLine]:
    lines = invoice.lines.order_by("position", "id")
    if with_entries:
        lines = lines.prefetch_related(
            Prefetch(
                "entry_billings",
                queryset=EntryBilling.objects.select_related("entry").order_by(
                    *entry_order_by("entry__")
                ),
            )
        )
    return list(lines)


@dataclass
class Balance:
    currency: str
    open_total: Decimal
    unapplied: Decimal
    buckets: list[tuple[str, Decimal]]

    @property
    def balance(self) -> Decimal:
        return self.open_total - self.unapplied


def balances(contact: Contact, as_of: dt.date | None = None) -> list[Balance]:
    """Per currency: open invoices, unapplied cash, balance and the aging buckets of SPEC 4."""
    as_of = as_of or firm_today()
    result = []
    for section in ar.customer_statement(account=contact.account, as_of=as_of):
        sums = dict.fromkeys(BUCKETS, ZERO)
        for invoice in section.invoices:
            sums[bucket_of(invoice.days_past_due)] += invoice.open_amount
        result.append(
            Balance(
                currency=section.currency,
                open_total=section.open_total,
                unapplied=section.unapplied_total,
                buckets=list(sums.items()),
            )
        )
    return result


def notices(contact: Contact) -> QuerySet[PaymentNotice]:
    return PaymentNotice.objects.filter(account_id=contact.account_id).select_related("invoice")


def expected_notices() -> QuerySet[PaymentNotice]:
    return (
        PaymentNotice.objects.filter(status=PaymentNotice.Status.EXPECTED)
        .select_related("account", "invoice", "contact")
        .order_by("date", "id")
    )


def notice_candidates(
    notices: list[PaymentNotice], days: int = 10, most: int = 5
) -> dict[int, list[Any]]:
    """For each notice (by id), up to `most` recorded payments that may be the one announced:
    same account, currency and amount, dated within `days` of the notice, not yet matched to
    another notice; oldest first. One query for the whole page of notices."""
    from receivables.models import Payment

    found: dict[int, list[Any]] = {n.pk: [] for n in notices}
    if not notices:
        return found
    window = dt.timedelta(days=days)
    match = Q()
    for n in notices:
        match |= Q(
            account_id=n.account_id,
            currency=n.currency,
            amount=n.amount,
            date__gte=n.date - window,
            date__lte=n.date + window,
        )
    payments = list(
        Payment.objects.filter(match)
        .exclude(notices__status=PaymentNotice.Status.MATCHED)
        .order_by("date", "id")
    )
    for n in notices:
        found[n.pk] = [
            p
            for p in payments
            if (p.account_id, p.currency, p.amount) == (n.account_id, n.currency, n.amount)
            and n.date - window <= p.date <= n.date + window
        ][:most]
    return found
