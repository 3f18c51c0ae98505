"""The seam through which upstream apps read an invoice's open amount, which receivables owns
(`receivables/settlement.py`). Invoicing shows open amounts (invoice lists, the API, mail, the
credit-note limit) but imports no downstream app and reads no downstream table through lookup
strings; receivables hands its ORM form over in `ReceivablesConfig.ready()`. This module holds
no rule of its own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet


class OpenAmountAnnotation(Protocol):
    def __call__(self, qs: QuerySet[Any], as_of: dt.date | None = None) -> QuerySet[Any]: ...


class OpenTotals(Protocol):
    def __call__(self, qs: QuerySet[Any], as_of: dt.date | None = None) -> dict[str, Any]: ...


_annotate: OpenAmountAnnotation | None = None
_totals: OpenTotals | None = None


def provide(annotate: OpenAmountAnnotation, totals: OpenTotals | None = None) -> None:
    """Called once by the owning app when Django starts."""
    global _annotate, _totals
    _annotate = annotate
    _totals = totals


def annotate(qs: QuerySet[Any], as_of: dt.date | None = None) -> QuerySet[Any]:
    """`allocated`, `credited` and `open_amount` on an Invoice queryset (receivables' rule)."""
    if _annotate is None:
        raise ImproperlyConfigured("No app provides open amounts (receivables is not installed).")
    return _annotate(qs, as_of)


def totals(qs: QuerySet[Any], as_of: dt.date | None = None) -> dict[str, Any]:
    """Per currency: (count, total, open) of an Invoice queryset, the sums of `annotate`'s
    open_amount computed set-based (receivables' rule)."""
    if _totals is None:
        raise ImproperlyConfigured("No app provides open totals (receivables is not installed).")
    return _totals(qs, as_of)


def open_amount(invoice: Any, as_of: dt.date | None = None) -> Decimal:
    amount: Decimal = (
        annotate(type(invoice).objects.filter(pk=invoice.pk), as_of)
        .values_list("open_amount", flat=True)
        .get()
    )
    return amount
