"""What an import leaves behind besides its rows (SPEC 1.4): ``--replace-period`` and undo.

``replace_period(ids, user=, result=)`` runs inside the import: the entries of the file's source
and period that the file no longer has are deleted (with history) when no invoice holds them, and
flagged ``CHANGED_AFTER_INVOICING`` when one does (they are kept).

``time_entry_import_undo(*, record_id, user)`` undoes a time-entry import, the latest or an older
one: entries it created are deleted, entries it changed get back their previous version (from
history), all in one transaction and with history. It is refused while any of its entries is on an
invoice (draft or approved), while a later import has changed or removed any entry it wrote (undo
that one first), and for an import that removed entries with --replace-period.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.template.defaultfilters import pluralize

from agreements.importing import lock_imports
from core.imports import ImportResult, UndoRefused, import_record_claim_undo, protected_ids
from timesheets.importing import CHANGE_REASON, ENTRY_COLUMNS
from timesheets.models import Flag, TimeEntry
from timesheets.services import unbilled_snapshots_refresh_later

GONE_DETAIL = (
    "The time tracker's export for this entry's period no longer has it (--replace-period); "
    "it is on an invoice, so it was kept."
)


def replace_period(ids: list[int], *, user: Any, result: ImportResult) -> None:
    if not ids:
        return
    held = protected_ids(TimeEntry, ids)
    entries = list(TimeEntry.objects.filter(pk__in=ids).order_by("pk"))
    kept = [e for e in entries if e.locked or e.pk in held]
    for entry in entries:
        if entry.locked or entry.pk in held:
            continue
        entry._history_user = user  # type: ignore[attr-defined]
        entry._change_reason = f"{CHANGE_REASON}: --replace-period"  # type: ignore[attr-defined]
        entry.delete()
        result.deleted += 1
    for entry in kept:
        flag, created = Flag.objects.get_or_create(
            code=Flag.Code.CHANGED_AFTER_INVOICING,
            subject=entry.external_id,
            defaults={
                "entry": entry,
                "project_code": entry.project_code,
                "hours": entry.hours,
                "detail": GONE_DETAIL,
            },
        )
        if not created and (flag.status, flag.detail) != (Flag.Status.OPEN, GONE_DETAIL):
            if flag.status == Flag.Status.RESOLVED:
                flag.status = Flag.Status.OPEN
            flag.detail, flag.resolved_at = GONE_DETAIL, None
            flag._history_user = user  # type: ignore[attr-defined]
            flag.save(update_fields=["status", "detail", "resolved_at"])
        result.notices.append(
            f"Entry {entry.external_id} is no longer in the export but is on an invoice; "
            "it was kept and flagged CHANGED_AFTER_INVOICING."
        )
    if result.deleted:
        result.notices.append(
            f"{result.deleted} entr{pluralize(result.deleted, 'y,ies')} of this source and period "
            f"that the file no longer has {pluralize(result.deleted, 'was,were')} deleted."
        )


_HISTORY = f"""
INSERT INTO timesheets_historicaltimeentry
    ({ENTRY_COLUMNS}, history_date, history_change_reason, history_type, history_user_id)
SELECT {ENTRY_COLUMNS}, statement_timestamp(), %(reason)s, %(kind)s, %(user)s FROM changed
"""
_NEW = """
t.import_record_id = %(record)s AND NOT EXISTS (
    SELECT 1 FROM timesheets_historicaltimeentry h WHERE h.id = t.id AND h.history_date < %(at)s)
"""
_DROP_FLAGS = f"""
DELETE FROM timesheets_flag f USING timesheets_timeentry t WHERE f.entry_id = t.id AND {_NEW}
"""
_DELETE = f"""
WITH changed AS (DELETE FROM timesheets_timeentry t WHERE {_NEW} RETURNING t.*)
{_HISTORY}
"""
_FIELDS = (
    "external_number", "date", "employee_id", "role", "project_code", "task", "duration_ms",
    "billable", "approved", "notes", "source", "import_record_id",
)  # fmt: skip
_RESTORE = f"""
WITH previous AS (
    SELECT DISTINCT ON (h.id) h.* FROM timesheets_historicaltimeentry h
    JOIN timesheets_timeentry t ON t.id = h.id AND t.import_record_id = %(record)s
    WHERE h.history_date < %(at)s
    ORDER BY h.id, h.history_date DESC, h.history_id DESC
), changed AS (
    UPDATE timesheets_timeentry t SET {", ".join(f"{f} = p.{f}" for f in _FIELDS)},
        updated_at = statement_timestamp()
    FROM previous p WHERE t.id = p.id RETURNING t.*
)
{_HISTORY}
"""


# The entries an import wrote (a history row of its) that are no longer as it left them: changed
# by a later import (whose record the entry now names) or removed since.
_REWRITTEN = """
SELECT count(*), min(t.import_record_id) FROM (
    SELECT DISTINCT h.id FROM timesheets_historicaltimeentry h WHERE h.import_record_id = %(record)s
) w LEFT JOIN timesheets_timeentry t ON t.id = w.id
WHERE t.id IS NULL OR t.import_record_id IS DISTINCT FROM %(record)s
"""


def _refuse_if_rewritten(record: Any) -> None:
    from core.models import ImportRecord

    with connection.cursor() as cursor:
        cursor.execute(_REWRITTEN, {"record": record.pk})
        count, later_id = cursor.fetchone()
    if not count:
        return
    later = ImportRecord.objects.filter(pk=later_id).first() if later_id else None
    by = "a later import"
    if later is not None:
        by = f"import {later.pk}" + (f" ({later.file_name})" if later.file_name else "")
    raise UndoRefused(
        f"{count} entr{pluralize(count, 'y,ies')} of this import {pluralize(count, 'was,were')} "
        f"changed or removed since by {by}; undo that one first."
    )


def time_entry_import_undo(*, record_id: int, user: Any) -> dict[str, int]:
    """See the module docstring; raises UndoRefused (nothing changed) with the reason."""
    with transaction.atomic():
        lock_imports("time_entries")
        record = import_record_claim_undo(
            record_id=record_id, kind="time_entries", user=user, latest_only=False
        )
        _refuse_if_rewritten(record)
        if record.deleted:
            raise UndoRefused(
                f"This import removed {record.deleted} entr{pluralize(record.deleted, 'y,ies')} "
                "with --replace-period; it cannot be undone. Import the earlier export again "
                "instead."
            )
        ids = list(TimeEntry.objects.filter(import_record=record).values_list("pk", flat=True))
        billed = protected_ids(TimeEntry, ids) | set(
            TimeEntry.objects.filter(pk__in=ids, locked=True).values_list("pk", flat=True)
        )
        if billed:
            raise UndoRefused(
                f"{len(billed)} entr{pluralize(len(billed), 'y,ies')} of this import "
                f"{pluralize(len(billed), 'is,are')} on an invoice since; it cannot be undone."
            )
        params = {
            "record": record.pk,
            "at": record.created_at,
            "reason": f"undo of import {record.pk}",
            "user": getattr(user, "pk", None),
        }
        with connection.cursor() as cursor:
            cursor.execute(_DROP_FLAGS, params)
            cursor.execute(_DELETE, {**params, "kind": "-"})
            deleted = cursor.rowcount
            cursor.execute(_RESTORE, {**params, "kind": "~"})
            restored = cursor.rowcount
        unbilled_snapshots_refresh_later()
    return {"deleted": deleted, "restored": restored}
