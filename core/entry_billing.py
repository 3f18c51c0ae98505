"""The seam through which timesheets reads whether a time entry is invoiced, which invoicing owns
(`invoicing/selectors`, `entry_billing_q`). Timesheets' KPI tiles split hours into invoiced and
pending and value unbilled time (what a run would bill: invoicing's eligibility and pricing), but timesheets imports no downstream app and reads no downstream
table through lookup strings; invoicing hands its rule over in `InvoicingConfig.ready()`. This
module holds no rule of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q


class EntryBillingQ(Protocol):
    def __call__(self, *, invoiced: bool) -> Q: ...


UnbilledValue = Callable[[dt.date], dict[str, Decimal]]

_q: EntryBillingQ | None = None
_unbilled: UnbilledValue | None = None


def provide(q: EntryBillingQ, unbilled: UnbilledValue) -> None:
    """Called once by the owning app when Django starts."""
    global _q, _unbilled
    _q, _unbilled = q, unbilled


def unbilled_value(last_day: dt.date) -> dict[str, Decimal]:
    """Currency -> value of the time a run for the period ending `last_day` would bill now."""
    if _unbilled is None:
        raise ImproperlyConfigured("No app provides entry billing (invoicing is not installed).")
    return _unbilled(last_day)


def invoiced_q() -> Q:
    """TimeEntry filter: billed on a final invoice, or drawn from a prepaid block."""
    return _get()(invoiced=True)


def not_invoiced_q() -> Q:
    """TimeEntry filter: not billed, or only on a draft."""
    return _get()(invoiced=False)


def _get() -> EntryBillingQ:
    if _q is None:
        raise ImproperlyConfigured("No app provides entry billing (invoicing is not installed).")
    return _q
