"""The PostgreSQL side of a time-entry import: the one documented place with raw SQL for entries.

Valid rows go in chunks through ``COPY`` into a TEMP staging table, so memory stays flat whatever
the file size. Repeated Entry IDs are then found with one ``GROUP BY``; entries are written with
one ``UPDATE ... FROM`` (changed rows only, ``changes.ALL_DIFFER``) and one ``INSERT ... SELECT``
(new rows), each in a CTE that also writes the simple-history rows
(``timesheets_historicaltimeentry``) for exactly the rows it touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.db import connection

from core.imports import ImportResult
from timesheets import ordering
from timesheets.importing.changes import ALL_DIFFER, BILLING_DIFFER, BILLING_FIELDS
from timesheets.importing.flags import LockedChange
from timesheets.importing.rows import CHANGE_REASON, MAX_ERRORS, Staged

COPY_CHUNK = 20_000
STAGE = "billable_entry_stage"
_STAGE_DDL = f"""
CREATE TEMP TABLE {STAGE} (
    line integer NOT NULL,
    external_id varchar(64) NOT NULL,
    date date NOT NULL,
    employee_ext varchar(64) NOT NULL,
    employee_name varchar(255) NOT NULL,
    role varchar(100) NOT NULL,
    project_code varchar(64) NOT NULL,
    task varchar(255) NOT NULL,
    duration_ms integer NOT NULL,
    billable boolean NOT NULL,
    approved boolean NOT NULL,
    notes text NOT NULL
) ON COMMIT DROP
"""
_COPY = (
    f"COPY {STAGE} FROM STDIN WITH (FORMAT csv, "
    "FORCE_NOT_NULL (external_id, employee_ext, employee_name, role, project_code, task, notes))"
)
ENTRY_COLUMNS = (
    "id, external_id, external_number, date, role, project_code, task, duration_ms, billable, "
    "approved, notes, locked, created_at, updated_at, employee_id, source, import_record_id"
)
_HISTORY_INSERT = f"""
INSERT INTO timesheets_historicaltimeentry
    ({ENTRY_COLUMNS}, history_date, history_change_reason, history_type, history_user_id)
SELECT {ENTRY_COLUMNS}, statement_timestamp(), %(reason)s, %(kind)s, %(user)s FROM changed
"""
_UPDATE = f"""
WITH changed AS (
    UPDATE timesheets_timeentry t SET
        date = s.date, employee_id = e.id, role = s.role, project_code = s.project_code,
        task = s.task, duration_ms = s.duration_ms, billable = s.billable,
        approved = s.approved, notes = s.notes, updated_at = statement_timestamp(),
        source = %(source)s, import_record_id = %(record)s
    FROM {STAGE} s JOIN timesheets_employee e ON e.external_id = s.employee_ext
    WHERE t.external_id = s.external_id AND NOT t.locked AND {ALL_DIFFER}
    RETURNING t.*
)
{_HISTORY_INSERT}
"""
_INSERT = f"""
WITH changed AS (
    INSERT INTO timesheets_timeentry
        (external_id, external_number, date, employee_id, role, project_code, task,
         duration_ms, billable, approved, notes, locked, created_at, updated_at, source,
         import_record_id)
    SELECT s.external_id,
           CASE WHEN s.external_id ~ {ordering.ENTRY_NUMBER_SQL} THEN s.external_id::numeric END,
           s.date, e.id, s.role, s.project_code, s.task, s.duration_ms, s.billable,
           s.approved, s.notes, false, statement_timestamp(), statement_timestamp(),
           %(source)s, %(record)s
    FROM {STAGE} s JOIN timesheets_employee e ON e.external_id = s.employee_ext
    WHERE NOT EXISTS (SELECT 1 FROM timesheets_timeentry t WHERE t.external_id = s.external_id)
    RETURNING *
)
{_HISTORY_INSERT}
"""


class SqlStage:
    """COPY into a TEMP table in chunks; set-based checks and writes from it."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.csv = csv.writer(self.buffer, lineterminator="\n")
        self.pending = 0
        self.total = 0
        self.cursor: Any = None

    def open(self) -> None:
        self.cursor = connection.cursor()
        # Hash joins over a million staged rows stay in memory; reset at the end of the transaction.
        self.cursor.execute("SET LOCAL work_mem = '64MB'")
        self.cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        self.cursor.execute(_STAGE_DDL)

    def add(self, staged: Staged) -> None:
        self.csv.writerow(staged.as_copy_row())
        self.pending += 1
        if self.pending >= COPY_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        self.buffer.seek(0)
        self.cursor.copy_expert(_COPY, self.buffer)
        self.total += self.pending
        self.pending = 0
        self.buffer.seek(0)
        self.buffer.truncate()

    def close(self) -> None:
        # The TEMP table goes at commit (ON COMMIT DROP) or with a rolled-back savepoint; a later
        # import in the same transaction (tests) drops it first in open().
        if self.cursor is not None:
            self.cursor.close()
            self.cursor = None

    def repeated_ids(self) -> Iterator[tuple[int, str, int]]:
        self.cursor.execute(f"ANALYZE {STAGE}")
        self.cursor.execute(
            f"""
            SELECT s.line, s.external_id, d.first_line
            FROM {STAGE} s
            JOIN (SELECT external_id, min(line) AS first_line FROM {STAGE}
                  GROUP BY external_id HAVING count(*) > 1) d USING (external_id)
            WHERE s.line <> d.first_line ORDER BY s.line LIMIT %s
            """,
            [MAX_ERRORS + 1],
        )
        yield from self.cursor.fetchall()

    def unknown_projects(self) -> list[tuple[str, int]]:
        self.cursor.execute(
            f"""
            SELECT s.project_code, count(*) FROM {STAGE} s
            WHERE NOT EXISTS (SELECT 1 FROM agreements_agreement a
                              WHERE a.project_code = s.project_code)
            GROUP BY 1 ORDER BY 2 DESC, 1
            """
        )
        return list(self.cursor.fetchall())

    def missing(self, source: str) -> list[int]:
        """Entries of ``source`` dated within the file's first..last date that it does not have."""
        self.cursor.execute(
            f"""
            SELECT t.id FROM timesheets_timeentry t,
                (SELECT min(date) AS first, max(date) AS last FROM {STAGE}) p
            WHERE t.source = %s AND t.date BETWEEN p.first AND p.last
              AND NOT EXISTS (SELECT 1 FROM {STAGE} s WHERE s.external_id = t.external_id)
            ORDER BY t.id
            """,
            [source],
        )
        return [r[0] for r in self.cursor.fetchall()]

    def write(
        self, result: ImportResult, *, employees: dict[str, int], user: Any, source: str = "billable",
        record: Any = None,
    ) -> None:  # fmt: skip
        params = {
            "reason": CHANGE_REASON,
            "user": getattr(user, "pk", None),
            "source": source,
            "record": getattr(record, "pk", None),
        }
        self.cursor.execute(_UPDATE, {**params, "kind": "~"})
        result.updated = self.cursor.rowcount
        self.cursor.execute(_INSERT, {**params, "kind": "+"})
        result.created = self.cursor.rowcount
        result.unchanged = self.total - result.created - result.updated

    def locked_changes(self) -> list[LockedChange]:
        # One pass over the invoiced entries in the file: those that differ (to flag) and those
        # that agree again while a flag is open (to resolve).
        self.cursor.execute(
            f"""
            SELECT t.id, t.external_id, t.date, t.duration_ms, t.project_code, t.role, t.billable,
                   s.date, s.duration_ms, s.project_code, s.role, s.billable,
                   {BILLING_DIFFER} AS differs
            FROM {STAGE} s JOIN timesheets_timeentry t ON t.external_id = s.external_id
            WHERE t.locked AND ({BILLING_DIFFER} OR EXISTS (
                SELECT 1 FROM timesheets_flag f
                WHERE f.code = 'CHANGED_AFTER_INVOICING' AND f.subject = t.external_id
                  AND f.status = 'open'))
            ORDER BY s.line
            """
        )
        changes: list[LockedChange] = []
        self._agreeing: list[str] = []
        for r in self.cursor.fetchall():
            if r[12]:
                changes.append(
                    LockedChange(r[0], r[1], dict(zip(BILLING_FIELDS, r[2:7], strict=True)),
                                 dict(zip(BILLING_FIELDS, r[7:12], strict=True)))
                )  # fmt: skip
            else:
                self._agreeing.append(r[1])
        return changes

    def locked_agreeing(self) -> list[str]:
        return self._agreeing
