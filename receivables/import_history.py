"""Undo of a payment import (SPEC 1.4, the import history page).

``payment_import_undo(*, record_id, user)`` deletes the payments the import created, with history
naming ``user``, in one transaction; the latest import or an older one (a later import never
rewrites a payment: the same Payment ID again is unchanged or an error). It is refused, with the
reason and nothing changed, while any of them has an allocation (applied at import or since,
reversed or not: allocations are never deleted) or was changed since (assigned to an account).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.template.defaultfilters import pluralize

from core.imports import UndoRefused, import_record_claim_undo, protected_ids
from receivables.models import Payment


def payment_import_undo(*, record_id: int, user: Any) -> dict[str, int]:
    with transaction.atomic():
        record = import_record_claim_undo(
            record_id=record_id, kind="payments", user=user, latest_only=False
        )
        payments = list(
            Payment.objects.select_for_update().filter(import_record=record).order_by("pk")
        )
        allocated = protected_ids(Payment, [p.pk for p in payments])
        changed = set(
            Payment.history.filter(id__in=[p.pk for p in payments], history_type="~")
            .values_list("id", flat=True)
            .distinct()
        )
        if changed and not allocated:
            shown = ", ".join(sorted(p.external_id for p in payments if p.pk in changed)[:5])
            n = len(changed)
            raise UndoRefused(
                f"{n} payment{pluralize(n)} of this import {pluralize(n, 'was,were')} changed "
                f"since ({shown}: assigned to an account); it cannot be undone."
            )
        if allocated:
            shown = ", ".join(sorted(p.external_id for p in payments if p.pk in allocated)[:5])
            raise UndoRefused(
                f"{len(allocated)} payment(s) of this import are allocated to invoices "
                f"({shown}); allocations are never deleted, so it cannot be undone."
            )
        for payment in payments:
            payment._history_user = user  # type: ignore[attr-defined]
            payment._change_reason = f"undo of import {record.pk}"  # type: ignore[attr-defined]
            payment.delete()
    return {"deleted": len(payments), "restored": 0}
