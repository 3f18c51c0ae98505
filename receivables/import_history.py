"""Undo of a payment import (SPEC 1.4, the import history page).

``payment_import_undo(*, record_id, user)`` deletes the payments the import created, with history
naming ``user``, in one transaction. It is refused, with the reason and nothing changed, while any
of them has an allocation (applied at import or since, reversed or not: allocations are never
deleted) and when a later payment import that wrote is still in force.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.imports import UndoRefused, import_record_claim_undo, protected_ids
from receivables.models import Payment


def payment_import_undo(*, record_id: int, user: Any) -> dict[str, int]:
    with transaction.atomic():
        record = import_record_claim_undo(record_id=record_id, kind="payments", user=user)
        payments = list(
            Payment.objects.select_for_update().filter(import_record=record).order_by("pk")
        )
        allocated = protected_ids(Payment, [p.pk for p in payments])
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
