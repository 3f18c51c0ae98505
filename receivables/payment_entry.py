"""Reads behind the record-payment page: which customers there are, the currencies a customer pays
in, the invoices a new payment can go to, and the payments that look like the one being typed.
The page helps a person choose; payment_record (services) stays the one that decides and writes.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import QuerySet

from agreements.models import Account
from core.dates import firm_today
from invoicing.models import Invoice
from receivables.models import Payment
from receivables.selectors import annotate_open_amount, final_invoices

# The checklist shows at most this many open invoices (oldest due first); the rest are still
# paid by the allocation rule, the page says how many were left out.
CHECKLIST_LIMIT = 100
# The customer picker lists accounts by name; a firm with more types to search (the input takes
# any Account ID).
PICKER_LIMIT = 2000


def picker_accounts() -> list[tuple[str, str]]:
    """(Account ID, name) for the customer picker, by name."""
    return list(
        Account.objects.order_by("name", "external_id").values_list("external_id", "name")[
            :PICKER_LIMIT
        ]
    )


def account_currencies(account: Account) -> list[str]:
    """The currencies the customer deals in: its agreements', invoices' and payments'."""
    found: set[str] = set(account.agreements.values_list("currency", flat=True).distinct())
    found.update(Invoice.objects.filter(account=account).values_list("currency", flat=True))
    found.update(Payment.objects.filter(account=account).values_list("currency", flat=True))
    return sorted(c for c in found if c)


def payable_invoices(account: Account, today: dt.date | None = None) -> QuerySet[Invoice]:
    """Invoices a payment recorded today can be allocated to (SPEC 4): final, not disputed, dated
    on or before today, with something open; by currency, then oldest due first."""
    today = today or firm_today()
    return (
        annotate_open_amount(
            final_invoices().filter(account=account, disputed=False, invoice_date__lte=today)
        )
        .filter(open_amount__gt=0)
        .order_by("currency", "due_date", "number", "pk")
    )


def likely_duplicates(
    *, account: Account, currency: str, amount: Decimal, date: dt.date
) -> list[Payment]:
    """Payments already recorded for the same customer, amount and date: probably this one."""
    return list(
        Payment.objects.filter(account=account, currency=currency, amount=amount, date=date)
        .select_related("created_by")
        .order_by("external_id")[:10]
    )


def open_invoices_by_group(
    keys: set[tuple[int, str]], limit: int = 50
) -> dict[tuple[int, str], list[Invoice]]:
    """Open, not disputed final invoices per (account id, currency), oldest due first, at most
    `limit` each: one query for the whole unapplied-cash page."""
    if not keys:
        return {}
    invoices = (
        annotate_open_amount(
            final_invoices().filter(
                account_id__in={k[0] for k in keys},
                currency__in={k[1] for k in keys},
                disputed=False,
            )
        )
        .filter(open_amount__gt=0)
        .order_by("account_id", "currency", "due_date", "number")
    )
    groups: dict[tuple[int, str], list[Invoice]] = {key: [] for key in keys}
    for invoice in invoices:
        group = groups.get((invoice.account_id, invoice.currency))
        if group is not None and len(group) < limit:
            group.append(invoice)
    return groups
