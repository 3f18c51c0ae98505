"""The seam through which agreements reads whether a milestone is billed, which invoicing owns
(`invoicing/selectors/eligibility.py`, `milestone_billed_q`). An agreement import refuses to
change or remove a billed milestone, but agreements imports no downstream app and reads no
downstream table through lookup strings; invoicing hands its rule over in
`InvoicingConfig.ready()`. This module holds no rule of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q

_billed_q: Callable[[], Q] | None = None


def provide(billed_q: Callable[[], Q]) -> None:
    """Called once by the owning app when Django starts."""
    global _billed_q
    _billed_q = billed_q


def billed_q() -> Q:
    """Milestone filter: billed (on a draft or a final invoice)."""
    if _billed_q is None:
        raise ImproperlyConfigured(
            "No app provides milestone billing (invoicing is not installed)."
        )
    return _billed_q()
