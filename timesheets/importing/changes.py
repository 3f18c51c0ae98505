"""The import's one "changed" rule, in Python and in SQL side by side.

A stored entry and the file's row for it differ when any field the import sets differs
(``ENTRY_FIELDS``): such an entry is updated, the others count as unchanged. For an entry on an
approved invoice only the billing fields count (``BILLING_FIELDS``): a difference there raises
``CHANGED_AFTER_INVOICING``. Comparison is exact and NULL-safe (SQL ``IS DISTINCT FROM``,
Python ``!=``): ``"a"`` and ``"a "`` differ, ``""`` and ``""`` do not.

The SQL form compares the stored entry ``t`` with the staged row ``s`` (and ``e``, the employee
the staged row names); ``tests/imports/test_changes.py`` checks that both forms agree on random
rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# field -> the staged row's SQL expression for it (the stored side is always ``t.<field>``).
_STAGED_SQL = {
    "date": "s.date",
    "employee_id": "e.id",
    "role": "s.role",
    "project_code": "s.project_code",
    "task": "s.task",
    "duration_ms": "s.duration_ms",
    "billable": "s.billable",
    "approved": "s.approved",
    "notes": "s.notes",
}
ENTRY_FIELDS: tuple[str, ...] = tuple(_STAGED_SQL)
BILLING_FIELDS: tuple[str, ...] = ("date", "duration_ms", "project_code", "role", "billable")


# --- Python -------------------------------------------------------------------------------------


def changed_fields(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Sequence[str] = ENTRY_FIELDS
) -> list[str]:
    """The fields among ``fields`` whose values differ, in ``fields`` order."""
    return [f for f in fields if old[f] != new[f]]


def differs(
    old: Mapping[str, Any], new: Mapping[str, Any], fields: Sequence[str] = ENTRY_FIELDS
) -> bool:
    return any(old[f] != new[f] for f in fields)


# --- SQL ----------------------------------------------------------------------------------------


def differs_sql(fields: Sequence[str] = ENTRY_FIELDS) -> str:
    """``differs`` as a condition on ``t`` (stored), ``s`` (staged) and ``e`` (employee)."""
    stored = ", ".join(f"t.{f}" for f in fields)
    staged = ", ".join(_STAGED_SQL[f] for f in fields)
    return f"({stored}) IS DISTINCT FROM ({staged})"


ALL_DIFFER = differs_sql(ENTRY_FIELDS)
BILLING_DIFFER = differs_sql(BILLING_FIELDS)
