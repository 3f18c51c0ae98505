"""Parsing and checking payments to import (SPEC 1.3, and 1.4 "Bank statements"). Reads the
database, never writes.

``parse_payments(rows, errors, source=...)`` turns ``csvio.Row`` objects into ``PaymentRow`` values
and records every problem (line and column); ``services.payment_import`` writes them, in file
order. Rows of the billable CSV name their Account ID, which must exist. Rows of a bank statement
(``STATEMENT_COLUMNS``, made by ``receivables.statements``) have none: the account is found, in
order, from the invoice numbers in the text, the payer remembered by IBAN or name, an Account ID
written in the text; otherwise the payment is imported unassigned. A statement is never refused
for an unknown payer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from agreements.models import Account
from core import csvio
from core.imports import RowError
from invoicing.models import Invoice
from receivables.allocation import mask_card_numbers, referenced_numbers
from receivables.models import KnownPayer, Payment
from receivables.validation import future_date_problem

COLUMNS = ("Payment ID", "Date", "Account ID", "Amount", "Currency", "Reference", "Method")
REQUIRED = ("Payment ID", "Date", "Account ID", "Amount")
# What a statement parser yields per credit: no Account ID, but the payer as the bank names it.
STATEMENT_COLUMNS = (
    "Payment ID", "Date", "Amount", "Currency", "Reference", "Method", "Payer Name", "Payer IBAN",
)  # fmt: skip
DIFFERENT = "payment already recorded with different values"
# Found-by labels, shown in the import notices.
BY_INVOICE, BY_IBAN, BY_NAME, BY_ACCOUNT_ID = (
    "invoice number",
    "payer IBAN",
    "payer name",
    "Account ID",
)
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*[A-Za-z0-9]|[A-Za-z0-9]")


def iban_key(iban: str) -> str:
    return re.sub(r"\s+", "", iban or "").upper()


def name_key(name: str) -> str:
    return " ".join((name or "").casefold().split())[:140]


@dataclass(frozen=True)
class PaymentRow:
    line: int
    external_id: str
    date: dt.date
    account: Account | None  # None: unassigned (statements only)
    amount: Decimal
    currency: str
    reference: str  # card numbers already masked
    method: str
    payer_name: str = ""
    payer_iban: str = ""
    found_by: str = ""  # how a statement row's account was found ("" = named or unassigned)
    existing: Payment | None = None

    def same_as(self, payment: Payment, *, compare_account: bool) -> bool:
        """A statement's account is derived (and may have been assigned by hand since), so a
        re-import compares what the bank wrote, not the account."""
        return (
            payment.date == self.date
            and (not compare_account or payment.account_id == getattr(self.account, "pk", None))
            and payment.amount == self.amount
            and payment.currency == self.currency
            and payment.reference == self.reference
            and payment.method == self.method
        )


@dataclass
class _Fields:
    line: int
    ok: bool
    external_id: str
    date: dt.date | None
    account_id: str
    amount: Decimal | None
    currency: str | None
    reference: str
    method: str
    payer_name: str
    payer_iban: str


def _read(row: csvio.Row, columns: Sequence[str], errors: list[RowError]) -> _Fields:
    f = csvio.Fields(row, columns, errors)
    statement = "Account ID" not in columns
    external_id = f.text("Payment ID", required=True, max_length=64)
    date = f.date("Date", required=True)
    if date is not None and (problem := future_date_problem(date)):
        f.error("Date", problem)
    account_id = "" if statement else f.text("Account ID", required=True, max_length=64)
    amount = f.amount("Amount", required=True)
    currency = f.currency("Currency", default="USD")
    reference = mask_card_numbers(f.raw("Reference"))
    if len(reference) > 500:
        f.error("Reference", f"must be at most 500 characters (it has {len(reference)})")
    method = f.text("Method", max_length=64)
    payer_name = f.raw("Payer Name")[:140] if statement else ""
    payer_iban = iban_key(f.raw("Payer IBAN"))[:34] if statement else ""
    return _Fields(
        row.line, f.ok, external_id, date, account_id, amount, currency, reference, method,
        payer_name, payer_iban,
    )  # fmt: skip


def parse_payments(
    rows: Iterable[csvio.Row], errors: list[RowError], *, source: str = "billable"
) -> list[PaymentRow]:
    """Every valid row (also the unchanged re-imports, with `existing` set); problems go to
    `errors`. The caller writes nothing when `errors` is not empty."""
    statement = source != "billable"
    columns = STATEMENT_COLUMNS if statement else COLUMNS
    parsed = [_read(row, columns, errors) for row in rows]
    if statement:
        found = resolve_accounts(parsed)
    else:
        named = Account.objects.filter(
            external_id__in={p.account_id for p in parsed if p.account_id}
        )
        by_id = {a.external_id: a for a in named}
        found = {i: (by_id.get(p.account_id), "") for i, p in enumerate(parsed)}
    existing = {
        p.external_id: p
        for p in Payment.objects.filter(
            external_id__in={p.external_id for p in parsed if p.external_id}
        )
    }
    first_line: dict[str, int] = {}
    out: list[PaymentRow] = []
    for index, p in enumerate(parsed):
        ok = p.ok
        if p.external_id:
            if p.external_id in first_line:
                message = (
                    f"{p.external_id} appears more than once in this file "
                    f"(first on line {first_line[p.external_id]})"
                )
                errors.append(RowError(p.line, "Payment ID", message))
                ok = False
            else:
                first_line[p.external_id] = p.line
        account, found_by = found[index]
        if not statement and p.account_id and account is None:
            errors.append(RowError(p.line, "Account ID", f"account {p.account_id} does not exist"))
            ok = False
        if not ok:
            continue
        assert p.date is not None and p.amount is not None and p.currency is not None
        payment_row = PaymentRow(
            p.line, p.external_id, p.date, account, p.amount, p.currency, p.reference, p.method,
            p.payer_name, p.payer_iban, found_by, existing.get(p.external_id),
        )  # fmt: skip
        if payment_row.existing is not None and not payment_row.same_as(
            payment_row.existing, compare_account=not statement
        ):
            errors.append(RowError(p.line, "Payment ID", DIFFERENT))
            continue
        out.append(payment_row)
    errors.sort(key=lambda e: e.line)
    return out


def resolve_accounts(parsed: Sequence[_Fields]) -> dict[int, tuple[Account | None, str]]:
    """Per row index: the account of a statement credit and how it was found (SPEC 1.4), in a
    fixed number of queries whatever the file's size."""
    numbers = {n for p in parsed for n in referenced_numbers(p.reference)}
    invoice_accounts = dict(
        Invoice.objects.filter(number__in=numbers).values_list("number", "account_id")
    )
    payers = {
        (kind, key): account_id
        for kind, key, account_id in KnownPayer.objects.filter(
            key__in={iban_key(p.payer_iban) for p in parsed if p.payer_iban}
            | {name_key(p.payer_name) for p in parsed if p.payer_name}
        ).values_list("kind", "key", "account_id")
    }
    tokens = {t for p in parsed for t in _TOKEN_RE.findall(p.reference)}
    by_external = dict(
        Account.objects.filter(external_id__in=tokens).values_list("external_id", "pk")
    )
    wanted: dict[int, tuple[int | None, str]] = {}
    for index, p in enumerate(parsed):
        wanted[index] = _find(p, invoice_accounts, payers, by_external)
    accounts = Account.objects.in_bulk({pk for pk, _ in wanted.values() if pk is not None})
    return {i: (accounts.get(pk) if pk else None, how) for i, (pk, how) in wanted.items()}


def _find(
    p: _Fields,
    invoice_accounts: dict[str, int],
    payers: dict[tuple[str, str], int],
    by_external: dict[str, int],
) -> tuple[int | None, str]:
    for number in referenced_numbers(p.reference):
        if number in invoice_accounts:
            return invoice_accounts[number], BY_INVOICE
    if p.payer_iban and (pk := payers.get((KnownPayer.Kind.IBAN, iban_key(p.payer_iban)))):
        return pk, BY_IBAN
    if p.payer_name and (pk := payers.get((KnownPayer.Kind.NAME, name_key(p.payer_name)))):
        return pk, BY_NAME
    for token in _TOKEN_RE.findall(p.reference):
        if token in by_external:
            return by_external[token], BY_ACCOUNT_ID
    return None, ""
