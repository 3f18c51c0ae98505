"""Parsing and checking a CRM agreements export (SPEC 1.1). Reads the database, never writes.

- ``rows``: ``parse_row(row, errors)`` turns one ``csvio.Row`` into an ``AgreementRow``, recording
  every problem of that row.
- ``checks``: ``check_rows(parsed, bad_ids, errors)`` adds the problems that need other rows or the
  database; ``parse_and_check`` runs both.

``agreements.services.agreement_import`` writes.
"""

from __future__ import annotations

from agreements.importing.checks import check_rows, parse_and_check
from agreements.importing.rows import (
    ACCOUNT_COLUMNS,
    COLUMNS,
    REQUIRED,
    STAGES,
    TYPES,
    AgreementRow,
    MilestoneValue,
    RoleRateValue,
    parse_row,
)
from core import locks

__all__ = [
    "ACCOUNT_COLUMNS",
    "COLUMNS",
    "REQUIRED",
    "STAGES",
    "TYPES",
    "AgreementRow",
    "MilestoneValue",
    "RoleRateValue",
    "check_rows",
    "lock_imports",
    "parse_and_check",
    "parse_row",
]


def lock_imports(name: str) -> None:
    """Serialize imports of one kind (PostgreSQL advisory lock held to the end of the transaction),
    so two uploads of overlapping files cannot both pass the checks and then collide."""
    locks.import_lock(name)
