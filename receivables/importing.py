"""Parsing and checking a bank remittance export (SPEC 1.3). Reads the database, never writes.

``parse_payments(rows, errors)`` turns ``csvio.Row`` objects into ``PaymentRow`` values and records
every problem (line and column); ``services.payment_import`` writes them, in file order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from agreements.models import Account
from core import csvio
from core.imports import RowError
from receivables.allocation import mask_card_numbers
from receivables.models import Payment
from receivables.validation import future_date_problem

COLUMNS = ("Payment ID", "Date", "Account ID", "Amount", "Currency", "Reference", "Method")
REQUIRED = ("Payment ID", "Date", "Account ID", "Amount")
DIFFERENT = "payment already recorded with different values"


@dataclass(frozen=True)
class PaymentRow:
    line: int
    external_id: str
    date: dt.date
    account: Account
    amount: Decimal
    currency: str
    reference: str  # card numbers already masked
    method: str
    existing: Payment | None = None

    def same_as(self, payment: Payment) -> bool:
        return (
            payment.date == self.date
            and payment.account_id == self.account.pk
            and payment.amount == self.amount
            and payment.currency == self.currency
            and payment.reference == self.reference
            and payment.method == self.method
        )


def parse_payments(rows: Iterable[csvio.Row], errors: list[RowError]) -> list[PaymentRow]:
    """Every valid row (also the unchanged re-imports, with `existing` set); problems go to
    `errors`. The caller writes nothing when `errors` is not empty."""
    parsed = []
    for row in rows:
        f = csvio.Fields(row, COLUMNS, errors)
        external_id = f.text("Payment ID", required=True, max_length=64)
        date = f.date("Date", required=True)
        if date is not None and (problem := future_date_problem(date)):
            f.error("Date", problem)
        account_id = f.text("Account ID", required=True, max_length=64)
        amount = f.amount("Amount", required=True)
        currency = f.currency("Currency", default="USD")
        reference = mask_card_numbers(f.raw("Reference"))
        if len(reference) > 500:
            f.error("Reference", f"must be at most 500 characters (it has {len(reference)})")
        method = f.text("Method", max_length=64)
        parsed.append(
            (row.line, f.ok, external_id, date, account_id, amount, currency, reference, method)
        )

    accounts = {
        a.external_id: a
        for a in Account.objects.filter(external_id__in={p[4] for p in parsed if p[4]})
    }
    existing = {
        p.external_id: p
        for p in Payment.objects.filter(external_id__in={p[2] for p in parsed if p[2]})
    }
    first_line: dict[str, int] = {}
    out: list[PaymentRow] = []
    for line, ok, external_id, date, account_id, amount, currency, reference, method in parsed:
        if external_id:
            if external_id in first_line:
                errors.append(
                    RowError(
                        line,
                        "Payment ID",
                        f"{external_id} appears more than once in this file "
                        f"(first on line {first_line[external_id]})",
                    )
                )
                ok = False
            else:
                first_line[external_id] = line
        account = accounts.get(account_id)
        if account_id and account is None:
            errors.append(RowError(line, "Account ID", f"account {account_id} does not exist"))
            ok = False
        if not ok:
            continue
        payment_row = PaymentRow(
            line,
            external_id,
            date,
            account,
            amount,
            currency,
            reference,
            method,
            existing.get(external_id),
        )
        if payment_row.existing is not None and not payment_row.same_as(payment_row.existing):
            errors.append(RowError(line, "Payment ID", DIFFERENT))
            continue
        out.append(payment_row)
    errors.sort(key=lambda e: e.line)
    return out
