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


_annotate: OpenAmountAnnotation | None = None


def provide(annotate: OpenAmountAnnotation) -> None:
    """Called once by the owning app when Django starts."""
    global _annotate
    _annotate = annotate


def annotate(qs: QuerySet[Any], as_of: dt.date | None = None) -> QuerySet[Any]:
    """`allocated`, `credited` and `open_amount` on an Invoice queryset (receivables' rule)."""
    if _annotate is None:
        raise ImproperlyConfigured("No app provides open amounts (receivables is not installed).")
    return _annotate(qs, as_of)


def open_amount(invoice: Any, as_of: dt.date | None = None) -> Decimal:
    amount: Decimal = (
        annotate(type(invoice).objects.filter(pk=invoice.pk), as_of)
        .values_list("open_amount", flat=True)
        .get()
    )
    return amount
