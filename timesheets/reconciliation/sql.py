"""Shared pieces of a reconciliation run: its constants, result, lock, SQL fragments and cursor."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from agreements.models import Agreement, RoleRate
from core import locks
from timesheets.models import Employee, Flag, TimeEntry

DAILY_LIMIT_MS = 12 * 3_600_000
UNAPPROVED_AFTER_DAYS = 7
NOT_STARTED_AFTER_DAYS = 14
# Codes this module raises and resolves. CHANGED_AFTER_INVOICING belongs to the importer.
RECONCILED_CODES = tuple(sorted(c for c in Flag.Code.values if c != "CHANGED_AFTER_INVOICING"))
# A written-off flag takes its entry out of OVER_CAP running totals ("less written-off ones"),
# except CHANGED_AFTER_INVOICING: that entry is already billed, so its hours still count.
_NOT_EXCLUDING_WRITE_OFF = "CHANGED_AFTER_INVOICING"
_TEMP_TABLES = ("recon_flag", "recon_dup", "recon_dupkey", "recon_change")
_WORK_MEM = "128MB"  # per sort/hash node, for this session only while a run is going

Progress = Callable[[str, int, int], None]
log = logging.getLogger("timesheets.reconciliation")


@dataclass
class ReconciliationResult:
    as_of: dt.date
    opened: int = 0
    resolved: int = 0
    updated: int = 0
    open_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_code.values())


def advisory_lock(*, shared: bool) -> None:
    """Serialise the apply step against flag actions.

    Must be called inside a transaction: the lock is released at commit or rollback."""
    locks.xact_lock(locks.RECONCILIATION_APPLY, shared=shared)


class _Sql:
    """SQL text for one run."""

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        self.t = {
            "te": TimeEntry._meta.db_table,
            "emp": Employee._meta.db_table,
            "agr": Agreement._meta.db_table,
            "rr": RoleRate._meta.db_table,
            "flag": Flag._meta.db_table,
            "hflag": Flag.history.model._meta.db_table,
        }

    # -- formatting ----------------------------------------------------------------------------
    @staticmethod
    def fmt2(expr: str) -> str:
        """A number as text with 2 decimals, for the words of `detail`."""
        return f"to_char(({expr}), 'FM9999999990.00')"

    @staticmethod
    def dtext(expr: str) -> str:
        """A date as YYYY-MM-DD text."""
        return f"to_char(({expr}), 'YYYY-MM-DD')"

    def date(self, value: dt.date) -> Any:
        return connection.ops.adapt_datefield_value(value)

    def now(self, value: dt.datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(value)

    # -- shared fragments ----------------------------------------------------------------------

    @staticmethod
    def hours(ms: str) -> str:
        return f"ROUND(({ms}) / 3600000.0, 4)"

    def h2(self, ms: str) -> str:
        return self.fmt2(f"({ms}) / 3600000.0")

    def insert_flags(self, select: str) -> str:
        """Insert the rows of `select` (columns in recon_flag order) into the TEMP table.

        ON CONFLICT keeps the first row per (code, subject) should data break the
        one-matching-agreement invariant."""
        return (
            "INSERT INTO recon_flag (code, subject, entry_id, agreement_id, employee_id, day, "
            "project_code, hours, detail) "
            f"SELECT * FROM ({select}) AS s WHERE true ON CONFLICT (code, subject) DO NOTHING"
        )


class _Cursor:
    """Always passes a params list, so '%' in SQL is written '%%' on every backend."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.cursor.execute(sql, list(params or []))

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()
