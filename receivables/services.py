"""Writes for receivables: payments and their allocation, reversals, disputes (SPEC 4; dunning
is receivables/dunning.py).

Locking: every service that changes how much of an invoice is paid locks the invoice rows first
(ordered by id, so two payments for the same account never deadlock), then the payment row. The
open amount is read after the lock, so concurrent payments never over-allocate an invoice.
Every change is saved with `_history_user` so django-simple-history records who did it (an
attribute simple-history reads and no stub declares: hence its `attr-defined` ignores).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from agreements.models import Account
from core import csvio
from core.dates import firm_today
from core.errors import BillingError, require_reason
from core.imports import (
    PREVIEW_ROWS,
    ImportResult,
    RowError,
    import_record_create,
    import_record_finish,
    import_transaction,
)
from core.money import ZERO, format_money, round_money
from invoicing.models import Invoice
from receivables import importing, selectors
from receivables.allocation import (
    OpenInvoice,
    mask_card_numbers,
    plan_allocation,
    referenced_numbers,
)
from receivables.models import Allocation, KnownPayer, Payment
from receivables.settlement import (
    annotate_open_amount,
    invoice_open_amount,
    invoice_set_disputed,
    settlement_sync,
)
from receivables.validation import currency_problem, future_date_problem


class _InvoiceNumber(TypedDict):
    invoice_number: str  # set by `_allocate` for the import's notices


if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    NumberedAllocation = WithAnnotations[Allocation, _InvoiceNumber]


def _final_statuses() -> list[str]:
    return sorted(Invoice.FINAL_STATUSES)


def _lock_invoices(**filters) -> list[int]:
    """Lock final invoices matching `filters` in id order; returns their ids."""
    return list(
        Invoice.objects.select_for_update()
        .filter(status__in=_final_statuses(), **filters)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_money(amount: Decimal) -> Decimal:
    if not isinstance(amount, Decimal):
        raise BillingError("Amount must be a decimal number.")
    if amount <= 0:
        raise BillingError("Amount must be greater than zero.")
    if round_money(amount) != amount:
        raise BillingError("Amount must have at most 2 decimal places.")
    return round_money(amount)


def _new_manual_id(date: dt.date) -> str:
    return f"MAN-{date:%Y%m%d}-{secrets.token_hex(4).upper()}"


def payment_record(
    *,
    account: Account,
    date: dt.date,
    amount: Decimal,
    currency: str,
    reference: str = "",
    method: str = "",
    user=None,
    external_id: str | None = None,
) -> Payment:
    """Record a payment and allocate it (SPEC 4): the invoices named in the reference first, in
    order of appearance; then the account's other final, not disputed invoices in that currency,
    oldest due date first (then number); the rest stays unapplied cash on the account."""
    amount = _check_money(amount)
    currency = (currency or "USD").strip().upper()
    if problem := currency_problem(currency):
        raise BillingError(f"Currency {problem}.")
    if problem := future_date_problem(date):
        raise BillingError(f"Date {problem}.")
    reference = mask_card_numbers((reference or "").strip())
    if len(reference) > 500:
        raise BillingError("Reference is longer than 500 characters.")
    method = (method or "").strip()
    if len(method) > 64:
        raise BillingError("Method is longer than 64 characters.")
    external_id = (external_id or "").strip() or _new_manual_id(date)
    with transaction.atomic():
        if Payment.objects.filter(external_id=external_id).exists():
            raise BillingError(f"Payment {external_id} is already recorded.")
        payment, _ = _payment_create(
            external_id=external_id,
            date=date,
            account=account,
            amount=amount,
            currency=currency,
            reference=reference,
            method=method,
            user=user,
        )
    return payment


def _payment_create(
    *,
    external_id: str,
    date: dt.date,
    account: Account | None,
    amount: Decimal,
    currency: str,
    reference: str,
    method: str,
    user,
    source: str = "billable",
    payer_name: str = "",
    payer_iban: str = "",
    import_record=None,
) -> tuple[Payment, list[NumberedAllocation]]:
    """Insert a validated payment and allocate it (an unassigned one waits for its account).
    Runs inside the caller's transaction."""
    if account is not None:
        _lock_invoices(account=account, currency=currency)
    payment = Payment(
        external_id=external_id,
        date=date,
        account=account,
        amount=amount,
        currency=currency,
        reference=reference,
        method=method,
        source=source,
        payer_name=payer_name,
        payer_iban=payer_iban,
        created_by=user,
        import_record=import_record,
    )
    payment._history_user = user  # type: ignore[attr-defined]
    payment.save()
    return payment, _allocate(payment, user)


def _allocate(payment: Payment, user) -> list[NumberedAllocation]:
    """Allocate a new payment; the caller holds the locks on the account's invoices."""
    if payment.account_id is None:  # unassigned: nothing to pay
        return []
    # An invoice dated after today is not paid yet: its allocation would be dated in the future.
    candidates = list(
        annotate_open_amount(
            selectors.final_invoices().filter(
                account_id=payment.account_id,
                currency=payment.currency,
                disputed=False,
                invoice_date__lte=firm_today(),
            )
        )
        .filter(open_amount__gt=ZERO)
        .order_by("due_date", "number", "pk")
        .values("pk", "number", "open_amount", "invoice_date")
    )
    by_number = {c["number"].upper(): c for c in candidates if c["number"]}
    referenced = [
        OpenInvoice(by_number[n]["pk"], n, by_number[n]["open_amount"])
        for n in referenced_numbers(payment.reference)
        if n in by_number
    ]
    # Final invoices are numbered (constraint invoice_final_has_number): `or ""` never applies.
    others = [OpenInvoice(c["pk"], c["number"] or "", c["open_amount"]) for c in candidates]
    shares, _unapplied = plan_allocation(payment.amount, referenced, others)
    if not shares:
        return []
    invoice_dates = {c["pk"]: c["invoice_date"] for c in candidates}
    allocations = [
        Allocation(
            payment=payment,
            invoice_id=share.invoice_id,
            amount=share.amount,
            # The payment's date; a payment received before the invoice was issued counts as
            # unapplied cash until the invoice date, so the aging as of any day stays balanced.
            date=_allocation_date(max(payment.date, invoice_dates[share.invoice_id])),
            created_by=user,
        )
        for share in shares
    ]
    created: list[NumberedAllocation] = bulk_create_with_history(
        allocations, Allocation, default_user=user
    )
    numbers = {c["pk"]: c["number"] or "" for c in candidates}
    for allocation in created:
        allocation.invoice_number = numbers[allocation.invoice_id]
    settlement_sync(invoice_ids=[share.invoice_id for share in shares], user=user)
    return created


def _allocation_date(date: dt.date) -> dt.date:
    """Every allocation passes here: none is ever dated after today (SPEC 4)."""
    if problem := future_date_problem(date, what="allocation"):
        raise BillingError(f"Allocation date {problem}.")
    return date


def allocation_apply(*, payment: Payment, invoice: Invoice, amount: Decimal, user) -> Allocation:
    """Apply part of a payment's unapplied cash to an invoice by hand, dated today."""
    amount = _check_money(amount)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(f"Invoice {invoice} is not approved; only final invoices are paid.")
        if invoice.disputed:
            raise BillingError(f"Invoice {invoice} is disputed; clear the dispute first.")
        today = firm_today()
        if invoice.invoice_date > today:
            raise BillingError(
                f"Invoice {invoice} is dated {invoice.invoice_date.isoformat()}, after today; "
                "it cannot be paid before its date."
            )
        if invoice.account_id != payment.account_id:
            raise BillingError(
                f"Invoice {invoice} belongs to another account than payment {payment.external_id}."
            )
        if invoice.currency != payment.currency:
            raise BillingError(
                f"Invoice {invoice} is in {invoice.currency}, the payment in {payment.currency}."
            )
        unapplied = selectors.payment_unapplied(payment)
        if amount > unapplied:
            raise BillingError(
                f"Payment {payment.external_id} has only "
                f"{format_money(unapplied, payment.currency)} unapplied."
            )
        open_amount = invoice_open_amount(invoice)
        if amount > open_amount:
            raise BillingError(
                f"Invoice {invoice} has only {format_money(open_amount, invoice.currency)} open."
            )
        allocation = Allocation(
            payment=payment,
            invoice=invoice,
            amount=amount,
            date=_allocation_date(today),
            created_by=user,
        )
        allocation._history_user = user  # type: ignore[attr-defined]
        allocation.save()
        settlement_sync(invoice_ids=[invoice.pk], user=user)
    return allocation


def allocation_reverse(*, allocation: Allocation, user, reason: str) -> Allocation:
    """Reverse an allocation (recorded with who, when and why; never deleted). The amount goes
    back to the payment's unapplied cash and the invoice is open again."""
    reason = require_reason(reason, to="reverse an allocation")
    with transaction.atomic():
        Invoice.objects.select_for_update().filter(pk=allocation.invoice_id).get()
        allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
        if allocation.reversed_on is not None:
            raise BillingError(f"This allocation was already reversed on {allocation.reversed_on}.")
        allocation.reversed_on = max(firm_today(), allocation.date)
        allocation.reversed_by = user
        allocation.reversal_reason = reason
        allocation._history_user = user  # type: ignore[attr-defined]
        allocation.save(update_fields=["reversed_on", "reversed_by", "reversal_reason"])
        settlement_sync(invoice_ids=[allocation.invoice_id], user=user)
    return allocation


def invoice_dispute(*, invoice: Invoice, user, reason: str) -> Invoice:
    """Mark a final invoice disputed (finance, by hand): opens a dispute in the default category
    with the reason as its first message. Automatic allocation and dunning skip it."""
    from receivables.disputes import categories, dispute_open

    reason = require_reason(reason, to="dispute an invoice")
    keys = list(categories())
    dispute_open(
        invoice=invoice,
        category="other" if "other" in keys else keys[0],
        message=reason,
        user=user,
    )
    return Invoice.objects.get(pk=invoice.pk)


def invoice_dispute_clear(*, invoice: Invoice, user) -> Invoice:
    """Clear a dispute: its open dispute is withdrawn. The reason stays in the history."""
    from receivables.disputes import dispute_withdraw

    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if not invoice.disputed:
            raise BillingError(f"Invoice {invoice} is not disputed.")
        dispute = selectors.open_dispute(invoice)
        if dispute is not None:
            dispute_withdraw(dispute=dispute, user=user)
            return Invoice.objects.get(pk=invoice.pk)
        # A flag without a dispute record (set before disputes were recorded): clear it.
        invoice_set_disputed(invoice=invoice, reason="", user=user)
    return invoice


def payment_assign(*, payment: Payment, account: Account, user) -> Payment:
    """Assign an unassigned payment to an account (SPEC 1.4): recorded with who and when,
    the payer's IBAN and name are remembered for that account (the next statement finds it),
    and the payment is then allocated as at import (SPEC 4), dated the payment's date."""
    with transaction.atomic():
        _lock_invoices(account=account, currency=payment.currency)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.account_id is not None:
            raise BillingError(
                f"Payment {payment.external_id} is already assigned to {payment.account}."
            )
        payment.account = account
        payment.assigned_by = user
        payment.assigned_at = timezone.now()
        payment._history_user = user  # type: ignore[attr-defined]
        payment.save(update_fields=["account", "assigned_by", "assigned_at"])
        for kind, key in (
            (KnownPayer.Kind.IBAN, importing.iban_key(payment.payer_iban)),
            (KnownPayer.Kind.NAME, importing.name_key(payment.payer_name)),
        ):
            if key:
                _remember_payer(kind=kind, key=key, account=account, user=user)
        _allocate(payment, user)
    return payment


def _remember_payer(*, kind: str, key: str, account: Account, user) -> None:
    payer = KnownPayer.objects.select_for_update().filter(kind=kind, key=key).first()
    if payer is None:
        payer = KnownPayer(kind=kind, key=key, account=account, updated_by=user)
    elif payer.account_id == account.pk:
        return
    else:
        payer.account, payer.updated_by = account, user  # the latest assignment wins
    payer._history_user = user  # type: ignore[attr-defined]
    payer.save()


# --- Import (SPEC 1.3, 1.4) -----------------------------------------------------------------------


def payment_import(
    *, file, user=None, dry_run: bool = False, source: str = "auto", options=None,
    file_name: str = "", progress=None,
) -> ImportResult:  # fmt: skip
    """Import payments: the billable CSV (SPEC 1.3) or a bank statement (1.4), `source` given or
    recognised from the first bytes. All or nothing, allocation in file order, idempotent by
    Payment ID (same values = unchanged; different values = a row error, payments are never
    edited). A statement's credits whose payer is not known are imported unassigned. `file` is
    bytes, a path or a binary file object; `options` (a ``core.reading.ReadOptions``: encoding,
    delimiter, sheet, date order, decimal, mapping) say how the billable CSV or XLSX is read. An
    import that wrote is in the import history. The first notice names the source read.
    ``progress(rows, phase)`` is told how far it is (a background import's bar, core.import_jobs).
    """
    from core.reading import ReadOptions, describe_file
    from receivables.sources import read_payments

    options = options or ReadOptions(source=source)
    if options.source == "auto" and source != "auto":
        options = dataclasses.replace(options, source=source)
    if progress is not None:
        progress(0, "reading")
    try:
        read = read_payments(file, options)
    except csvio.CsvFileError as exc:
        result = ImportResult(errors=getattr(exc, "errors", [exc.error]), dry_run=dry_run)
        result.unknown_header = getattr(exc, "header", [])
        return result
    file_info = None if dry_run else describe_file(file, file_name)
    result = _import(read.rows, read.errors, user, dry_run, source=read.source, read=read,
                     file_info=file_info, progress=progress)  # fmt: skip
    result.source = read.source
    result.errors = read.relabel(result.errors)
    result.notices[0:0] = read.notices
    return result


def payment_import_rows(*, rows, user=None, dry_run: bool = False, options=None) -> ImportResult:
    """The same import from a JSON list of objects keyed by the SPEC column names (or a
    mapping's)."""
    from core.reading import TableReader, describe_file
    from receivables.sources import SOURCES, PaymentFile

    try:
        reader = TableReader.from_dicts(
            rows, sources=SOURCES,
            options=dataclasses.replace(options, source="billable") if options else None,
        )  # fmt: skip
        parsed_rows = list(reader)
    except csvio.CsvFileError as exc:
        return ImportResult(errors=[exc.error], dry_run=dry_run)
    read = PaymentFile("billable", parsed_rows, list(reader.errors), [], reader)
    file_info = None if dry_run else describe_file(None)
    result = _import(parsed_rows, read.errors, user, dry_run, read=read, file_info=file_info)
    result.source = "billable"
    result.errors = read.relabel(result.errors)
    return result


def _import(
    rows: list[csvio.Row], errors: list[RowError], user, dry_run: bool, *,
    source: str = "billable", read=None, file_info=None, progress=None,
) -> ImportResult:  # fmt: skip
    for attempt in range(2):
        result = ImportResult(dry_run=dry_run)
        result.errors = list(errors)
        parsed = importing.parse_payments(rows, result.errors, source=source)
        if result.errors:
            return result
        if dry_run:
            result.preview = parsed[:PREVIEW_ROWS]
        try:
            with import_transaction(dry_run=dry_run):
                record = _import_record(source, user, read, file_info) if not dry_run else None
                for done, row in enumerate(parsed):
                    if progress is not None:
                        progress(done, "writing")
                    if row.existing is not None:
                        result.unchanged += 1
                        continue
                    payment, allocations = _payment_create(
                        external_id=row.external_id,
                        date=row.date,
                        account=row.account,
                        amount=row.amount,
                        currency=row.currency,
                        reference=row.reference,
                        method=row.method,
                        user=user,
                        source=source,
                        payer_name=row.payer_name,
                        payer_iban=row.payer_iban,
                        import_record=record,
                    )
                    result.created += 1
                    result.notices.append(_allocation_notice(payment, allocations, row.found_by))
                if record is not None:
                    import_record_finish(record=record, result=result)
                    result.import_id = record.pk
        except IntegrityError:
            # A concurrent import inserted the same Payment ID first: check again against it.
            if attempt == 0:
                continue
            raise
        return result
    raise AssertionError("unreachable")


def _import_record(source: str, user, read, file_info):
    """The import history's record of a payment import that writes (None without a file)."""
    if file_info is None:
        return None
    return import_record_create(
        kind="payments",
        source=source,
        user=user,
        file=file_info,
        encoding=read.encoding if read is not None else "",
        options=read.reader.options.as_json() if read is not None and read.reader else {},
    )


def _allocation_notice(
    payment: Payment, allocations: list[NumberedAllocation], found_by: str = ""
) -> str:
    text = f"{payment.external_id}: {format_money(payment.amount, payment.currency)}"
    if payment.account is None:
        return text + " unassigned (payer not known); assign it to an account"
    if found_by:
        text += f" to {payment.account.external_id} (found by {found_by})"
    applied = sum((a.amount for a in allocations), ZERO)
    parts = [
        f"{format_money(a.amount, payment.currency)} to {a.invoice_number}" for a in allocations
    ]
    text += f" applied {'; '.join(parts)}" if parts else " not applied to any invoice"
    if payment.amount - applied > 0:
        text += f"; {format_money(payment.amount - applied, payment.currency)} unapplied"
    return text
