"""Helpers every invoicing service shares: history with the user, totals, amounts, the draft lock."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.utils import timezone

from core.errors import BillingError, require_reason
from invoicing import generation as gen
from invoicing.models import Invoice


def with_user(obj, user):
    """Mark `obj` so its next save records `user` in history."""
    obj._history_user = user
    return obj


def bulk_delete_with_history(queryset, user) -> int:
    """Delete rows and record a '-' history row for each (QuerySet.delete() records none)."""
    rows = list(queryset)
    if not rows:
        return 0
    history = type(rows[0]).history.model
    now = timezone.now()
    history.objects.bulk_create(
        [
            history(
                history_date=now,
                history_user=user if user is not None else history.get_default_history_user(obj),
                history_change_reason="",
                history_type="-",
                **{f.attname: getattr(obj, f.attname) for f in history.tracked_fields},
            )
            for obj in rows
        ]
    )
    # One DELETE without per-row signals: the history rows above already say who deleted them
    # (simple_history's post_delete would add a second row each, one INSERT at a time). Only
    # used for the claim tables, which nothing references.
    doomed = queryset.model.objects.filter(pk__in=[r.pk for r in rows])
    doomed._raw_delete(doomed.db)
    return len(rows)


def recompute_totals(invoice: Invoice) -> None:
    rows = invoice.lines.values_list("amount", "tax_rate")
    totals = gen.compute_totals(gen.AmountLine(amount=a, tax_rate=t) for a, t in rows)
    invoice.net, invoice.tax, invoice.total = totals.net, totals.tax, totals.total


def parse_money(value, what: str = "Amount") -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BillingError(f"{what} must be a decimal amount, got {value!r}.") from None
    if not amount.is_finite():
        raise BillingError(f"{what} must be a decimal amount, got {value!r}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise BillingError(f"{what} has more than 2 decimal places: {value}.")
    if abs(amount) >= Decimal("1e12"):
        raise BillingError(f"{what} is too large: {value}.")
    return amount.quantize(Decimal("0.01"))


def need_reason(reason: str | None) -> str:
    return require_reason(reason)


def lock_draft(invoice: Invoice, action: str) -> Invoice:
    """Lock the invoice row; refuse unless it is still a draft."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Invoice.Status.DRAFT:
        raise BillingError(
            f"Invoice {locked} is {locked.get_status_display().lower()}: only a draft can be {action}."
        )
    return locked
