"""The seam through which timesheets reads whether a time entry is invoiced, which invoicing owns
(`invoicing/selectors`, `entry_billing_q`). Timesheets' KPI tiles split hours into invoiced and
pending and value unbilled time, but timesheets imports no downstream app and reads no downstream
table through lookup strings; invoicing hands its rule over in `InvoicingConfig.ready()`. This
module holds no rule of its own.
"""

from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q


class EntryBillingQ(Protocol):
    def __call__(self, *, invoiced: bool) -> Q: ...


_q: EntryBillingQ | None = None


def provide(q: EntryBillingQ) -> None:
    """Called once by the owning app when Django starts."""
    global _q
    _q = q


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
