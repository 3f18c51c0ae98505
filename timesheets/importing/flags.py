"""``CHANGED_AFTER_INVOICING`` from an import (SPEC 1.2): an entry on an approved invoice is never
changed; a file that differs from it in a billing field raises (or reopens) a flag naming each
change old -> new, and a file that agrees with it again resolves the open flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from core.imports import ImportResult
from timesheets.importing.changes import BILLING_FIELDS, changed_fields
from timesheets.importing.rows import CHANGE_REASON
from timesheets.models import MS_PER_HOUR, Flag

FIELD_LABELS = {
    "date": "Date",
    "duration_ms": "Hours",
    "project_code": "Project Code",
    "role": "Role",
    "billable": "Billable",
}


@dataclass(frozen=True)
class LockedChange:
    entry_id: int
    external_id: str
    old: dict[str, Any]
    new: dict[str, Any]


def _show(field: str, value: Any) -> str:
    if field == "duration_ms":
        return f"{(Decimal(value) / MS_PER_HOUR).normalize():f}"
    if field == "billable":
        return "yes" if value else "no"
    if value == "":
        return "(empty)"
    return str(value)


def describe(change: LockedChange) -> list[str]:
    """Each billing field the file changed, as ``Label old -> new``."""
    return [
        f"{FIELD_LABELS[f]} {_show(f, change.old[f])} -> {_show(f, change.new[f])}"
        for f in changed_fields(change.old, change.new, BILLING_FIELDS)
    ]


def _updated_flag(flag: Flag, detail: str) -> Flag | None:
    """``flag`` reopened with ``detail``, or None when it already says that."""
    status = flag.status
    if status == Flag.Status.RESOLVED:
        status = Flag.Status.OPEN
    if (flag.status, flag.detail) == (status, detail):
        return None
    flag.status, flag.detail, flag.resolved_at = status, detail, None
    return flag


def flag_changes_after_invoicing(
    changes: list[LockedChange], user: Any, result: ImportResult
) -> None:
    if not changes:
        return
    subjects = [c.external_id for c in changes]
    flags = {
        f.subject: f
        for i in range(0, len(subjects), 2000)
        for f in Flag.objects.filter(
            code=Flag.Code.CHANGED_AFTER_INVOICING, subject__in=subjects[i : i + 2000]
        )
    }
    new_flags, changed_flags = [], []
    for change in changes:
        parts = describe(change)
        detail = (
            "The time tracker changed this entry after it was invoiced: "
            + "; ".join(parts)
            + ". The invoiced entry was kept."
        )
        flag = flags.get(change.external_id)
        if flag is None:
            new_flags.append(
                Flag(
                    code=Flag.Code.CHANGED_AFTER_INVOICING,
                    subject=change.external_id,
                    entry_id=change.entry_id,
                    project_code=change.old["project_code"],
                    hours=Decimal(change.old["duration_ms"]) / MS_PER_HOUR,
                    detail=detail,
                )
            )
        elif (updated := _updated_flag(flag, detail)) is not None:
            changed_flags.append(updated)
        if len(result.notices) < 100:
            result.notices.append(
                f"Entry {change.external_id} is on an approved invoice and was not changed; "
                f"CHANGED_AFTER_INVOICING: {'; '.join(parts)}"
            )
    if len(changes) > 100:
        result.notices.append(f"... and {len(changes) - 100} more entries flagged.")
    _save_flags(new_flags, changed_flags, user)


def _save_flags(new_flags: list[Flag], changed_flags: list[Flag], user: Any) -> None:
    if new_flags:
        bulk_create_with_history(
            new_flags, Flag, default_user=user, default_change_reason=CHANGE_REASON
        )
    if changed_flags:
        bulk_update_with_history(
            changed_flags,
            Flag,
            ["status", "detail", "resolved_at"],
            default_user=user,
            default_change_reason=CHANGE_REASON,
        )


def resolve_agreed_flags(external_ids: list[str], user: Any) -> None:
    """The file agrees with an invoiced entry again: its open CHANGED_AFTER_INVOICING flag's cause
    has gone."""
    if not external_ids:
        return
    now = timezone.now()
    flags = []
    for i in range(0, len(external_ids), 2000):
        for flag in Flag.objects.filter(
            code=Flag.Code.CHANGED_AFTER_INVOICING,
            status=Flag.Status.OPEN,
            subject__in=external_ids[i : i + 2000],
        ):
            flag.status, flag.resolved_at = Flag.Status.RESOLVED, now
            flags.append(flag)
    if flags:
        bulk_update_with_history(
            flags,
            Flag,
            ["status", "resolved_at"],
            default_user=user,
            default_change_reason=CHANGE_REASON,
        )
