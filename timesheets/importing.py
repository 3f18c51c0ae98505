"""Importing the time tracker's export (SPEC 1.2), fast enough for a million rows.

``time_entry_import(*, file, user=None, dry_run=False)`` reads a CSV (bytes, a path or a binary file
object); ``time_entry_import_rows(*, rows, user=None, dry_run=False)`` takes a JSON list of objects
keyed by the SPEC column names (line = index + 2). Both return an ``ImportResult``; with any error
nothing is written (all or nothing, one transaction).

How it runs
-----------
1. Rows are streamed from ``csvio.CsvReader`` and checked in Python (formats, lengths, hours). Parsed
   dates and hours are cached, because exports repeat them on every line.
2. Valid rows go in chunks through ``COPY`` into a TEMP staging table, so memory stays flat
   whatever the file size. Repeated Entry IDs are then found with one ``GROUP BY``; entries are
   written with one ``UPDATE ... FROM`` (changed rows only) and one ``INSERT ... SELECT`` (new rows),
   each in a CTE that also writes the simple-history rows (``timesheets_historicaltimeentry``) for
   exactly the rows it touched. This is the one documented place with raw SQL for entries.
3. An entry already on an approved invoice (``TimeEntry.locked``) is never changed. If the file
   differs from it in Date, Hours, Project Code, Role or Billable, a ``CHANGED_AFTER_INVOICING`` flag
   is raised (or reopened) naming each change old -> new; the row counts as unchanged. When the file
   agrees with the invoiced entry again, an open flag of that kind is resolved.
4. Employees are created from Employee ID / Employee Name; a non-empty name updates the stored one
   (the last non-empty name in the file wins). Employees are few, so this is plain ORM.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from agreements.importing import lock_imports
from core import csvio
from core.imports import (
    ImportFile,
    ImportResult,
    RowError,
    import_record_create,
    import_record_finish,
)
from core.reading import ReadOptions, Schema, SourceSet, TableReader, describe_file
from timesheets import ordering, sources
from timesheets.models import MS_PER_HOUR, Employee, Flag

COLUMNS = (
    "Entry ID",
    "Date",
    "Employee ID",
    "Employee Name",
    "Role",
    "Project Code",
    "Task",
    "Hours",
    "Billable",
    "Approved",
    "Notes",
)
REQUIRED = ("Entry ID", "Date", "Employee ID", "Project Code", "Hours", "Billable")
CHANGE_REASON = "time entry import"
# Errors listed per import; past this the file is clearly the wrong one and more lines do not help.
MAX_ERRORS = 1000
COPY_CHUNK = 20_000
MAX_DAY_MS = 24 * MS_PER_HOUR
BILLING_FIELDS = ("date", "duration_ms", "project_code", "role", "billable")
FIELD_LABELS = {
    "date": "Date",
    "duration_ms": "Hours",
    "project_code": "Project Code",
    "role": "Role",
    "billable": "Billable",
}
_DECIMAL_HOURS = re.compile(r"(\d*)(?:\.(\d*))?")
_CLOCK_HOURS = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d))?")
_BOOLS = {
    "yes": True, "y": True, "true": True, "1": True,
    "no": False, "n": False, "false": False, "0": False,
}  # fmt: skip
_HOURS_FORMAT = "must be decimal hours (1.5) or H:MM / H:MM:SS (1:30)"


SCHEMA = Schema(
    "time_entries", COLUMNS, frozenset(REQUIRED), sources.KINDS, helpers=("Start Time",)
)
SOURCES = SourceSet(SCHEMA, sources.BILLABLE, sources.OTHERS)


def time_entry_import(
    *,
    file: Any,
    user: Any = None,
    dry_run: bool = False,
    options: ReadOptions | None = None,
    replace_period: bool = False,
    file_name: str = "",
) -> ImportResult:
    """``options``: source, mapping, encoding, delimiter, sheet, date order, decimal (SPEC 1.4)."""
    reader = TableReader(file, sources=SOURCES, options=options)
    return import_entries(
        reader,
        user=user,
        dry_run=dry_run,
        replace_period=replace_period,
        file_info=None if dry_run else describe_file(file, file_name),
    )


def time_entry_import_rows(
    *,
    rows: list[dict[str, Any]],
    user: Any = None,
    dry_run: bool = False,
    options: ReadOptions | None = None,
    replace_period: bool = False,
) -> ImportResult:
    try:
        reader = TableReader.from_dicts(rows, sources=SOURCES, options=options)
    except csvio.CsvFileError as exc:
        return ImportResult(errors=[exc.error], dry_run=dry_run)
    return import_entries(
        reader,
        user=user,
        dry_run=dry_run,
        replace_period=replace_period,
        file_info=None if dry_run else describe_file(None),
    )


# --- parsing ------------------------------------------------------------------------------------


def parse_hours(text: str) -> int:
    """Hours as exported -> whole milliseconds. Raises csvio.FieldError."""
    csvio.check_number_length(text)
    m = _CLOCK_HOURS.fullmatch(text)
    if m:
        ms = (int(m[1]) * 3600 + int(m[2]) * 60 + int(m[3] or 0)) * 1000
    else:
        m = _DECIMAL_HOURS.fullmatch(text)
        if not m or not (m[1] or m[2]):
            if text.startswith("-"):
                raise csvio.FieldError(f"must be more than 0 and at most 24, got {text!r}")
            raise csvio.FieldError(f"{_HOURS_FORMAT}, got {text!r}")
        fraction = (m[2] or "").rstrip("0")
        if len(fraction) > 4:
            raise csvio.FieldError(
                f"must have at most 4 decimal places (whole milliseconds), got {text!r}"
            )
        # 0.0001 h = 360 ms, so 4 places always give whole milliseconds.
        ms = int(m[1] or 0) * MS_PER_HOUR + int(fraction.ljust(4, "0")) * 360
    if ms <= 0 or ms > MAX_DAY_MS:
        raise csvio.FieldError(f"must be more than 0 and at most 24, got {text!r}")
    return ms


@dataclass(slots=True)
class Staged:
    """One valid row, ready for the staging table."""

    line: int
    external_id: str
    date: str  # ISO
    employee_ext: str
    employee_name: str
    role: str
    project_code: str
    task: str
    duration_ms: int
    billable: bool
    approved: bool
    notes: str

    def as_copy_row(self) -> tuple:
        return (
            self.line, self.external_id, self.date, self.employee_ext, self.employee_name,
            self.role, self.project_code, self.task, self.duration_ms,
            "t" if self.billable else "f", "t" if self.approved else "f", self.notes,
        )  # fmt: skip


class _Checker:
    """Checks rows one by one; caches dates and hours; keeps the first MAX_ERRORS errors."""

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.error_count = 0
        self.dates: dict[str, str | csvio.FieldError] = {}
        self.hours: dict[str, int | csvio.FieldError] = {}
        # employee ID -> last non-empty name in the file (employees are few).
        self.employees: dict[str, str] = {}

    def add(self, line: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))

    def _text(self, line: int, value: str, column: str, limit: int, required: bool) -> bool:
        if not value:
            if required:
                self.add(line, column, "is required")
                return False
            return True
        if len(value) > limit:
            self.add(line, column, f"must be at most {limit} characters (it has {len(value)})")
            return False
        return True

    def check(self, row: csvio.Row) -> Staged | None:
        line = row.line
        entry_id, date, emp_id, emp_name, role, project, task, hours, billable, approved, notes = (
            row.values
        )
        before = self.error_count
        self._text(line, entry_id, "Entry ID", 64, True)
        iso = self._date(line, date)
        self._text(line, emp_id, "Employee ID", 64, True)
        self._text(line, emp_name, "Employee Name", 255, False)
        self._text(line, role, "Role", 100, False)
        self._text(line, project, "Project Code", 64, True)
        self._text(line, task, "Task", 255, False)
        ms = self._hours(line, hours)
        bill = self._bool(line, billable, "Billable", None)
        appr = self._bool(line, approved, "Approved", True)
        if self.error_count != before:
            return None
        if emp_name:
            self.employees[emp_id] = emp_name
        else:
            self.employees.setdefault(emp_id, "")
        return Staged(
            line, entry_id, iso, emp_id, emp_name, role, project, task, ms, bill, appr, notes
        )  # type: ignore[arg-type]

    def _date(self, line: int, text: str) -> str | None:
        if not text:
            self.add(line, "Date", "is required")
            return None
        cached = self.dates.get(text)
        if cached is None:
            try:
                cached = csvio.parse_date(text).isoformat()
            except csvio.FieldError as exc:
                cached = exc
            if len(self.dates) > 50_000:
                self.dates.clear()
            self.dates[text] = cached
        if isinstance(cached, csvio.FieldError):
            self.add(line, "Date", str(cached))
            return None
        return cached

    def _hours(self, line: int, text: str) -> int | None:
        if not text:
            self.add(line, "Hours", "is required")
            return None
        cached = self.hours.get(text)
        if cached is None:
            try:
                cached = parse_hours(text)
            except csvio.FieldError as exc:
                cached = exc
            if len(self.hours) > 50_000:
                self.hours.clear()
            self.hours[text] = cached
        if isinstance(cached, csvio.FieldError):
            self.add(line, "Hours", str(cached))
            return None
        return cached

    def _bool(self, line: int, text: str, column: str, default: bool | None) -> bool | None:
        if not text:
            if default is None:
                self.add(line, column, "is required")
            return default
        value = _BOOLS.get(text.lower())
        if value is None:
            self.add(line, column, f"must be yes/no, y/n, true/false or 1/0, got {text!r}")
        return value


# --- the import ---------------------------------------------------------------------------------


def import_entries(
    source: Iterable[csvio.Row],
    *,
    user: Any = None,
    dry_run: bool = False,
    replace_period: bool = False,
    file_info: ImportFile | None = None,
) -> ImportResult:
    """Check and write rows from ``source`` (a TableReader, a CsvReader or a list of Rows): COPY
    into a staging table, then set-based SQL. ``file_info`` (not for a dry run) records the import
    in the history; ``replace_period`` removes the source's entries of the file's period that it
    no longer has."""
    reader = source if isinstance(source, TableReader) else None
    result = ImportResult(dry_run=dry_run)
    checker = _Checker()
    with transaction.atomic():
        lock_imports("time_entries")
        writer = _SqlStage()
        try:
            writer.open()
            try:
                for row in source:
                    staged = checker.check(row)
                    if staged is not None:
                        writer.add(staged)
            except csvio.CsvFileError as exc:
                checker.error_count += 1
                checker.errors.append(exc.error)
                result.unknown_header = getattr(exc, "header", [])
            finally:
                for error in getattr(source, "errors", ()):
                    checker.add(error.line, error.column, error.message)
            if not checker.error_count:
                writer.flush()
                for line, entry_id, first in writer.repeated_ids():
                    checker.add(line, "Entry ID", f"{entry_id} repeats line {first}")
            if checker.error_count:
                result.errors = reader.relabel(_listed(checker)) if reader else _listed(checker)
                return result
            result.source = reader.source.name if reader and reader.source else "billable"
            result.notices.extend(reader.notices if reader else [])
            result.notices.extend(_unknown_projects_notice(writer.unknown_projects()))
            record = None
            if file_info is not None and not dry_run:
                record = import_record_create(
                    kind="time_entries",
                    source=result.source,
                    user=user,
                    file=file_info,
                    encoding=reader.encoding if reader else "",
                    options=reader.options.as_json() if reader else {},
                )
            employees = _upsert_employees(checker.employees, user)
            writer.write(
                result, employees=employees, user=user, source=result.source, record=record
            )
            _flag_changes_after_invoicing(writer.locked_changes(), user, result)
            _resolve_agreed_flags(writer.locked_agreeing(), user)
            if replace_period:
                from timesheets.import_history import replace_period as remove_missing

                remove_missing(writer.missing(result.source), user=user, result=result)
            if record is not None:
                import_record_finish(record=record, result=result, deleted=result.deleted)
                result.import_id = record.pk
        finally:
            writer.close()
        if dry_run:
            transaction.set_rollback(True)
    return result


def _unknown_projects_notice(counts: list[tuple[str, int]]) -> list[str]:
    """A warning, not an error: time may arrive before the CRM has the agreement."""
    if not counts:
        return []
    shown = ", ".join(f"{code} ({n})" for code, n in counts[:5])
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    return [
        f"Entries name Project Codes that no agreement has: {shown}{more}; reconciliation flags "
        "them NO_AGREEMENT until the agreement is imported."
    ]


def _listed(checker: _Checker) -> list[RowError]:
    errors = sorted(checker.errors, key=lambda e: e.line)[:MAX_ERRORS]
    if checker.error_count > len(errors):
        errors.append(
            RowError(
                0,
                csvio.FILE,
                f"{checker.error_count - len(errors)} more problem(s) not listed; fix these and "
                "import again",
            )
        )
    return errors


def _upsert_employees(wanted: dict[str, str], user: Any) -> dict[str, int]:
    existing: dict[str, Employee] = {}
    ids = sorted(wanted)
    for i in range(0, len(ids), 2000):
        for emp in Employee.objects.filter(external_id__in=ids[i : i + 2000]):
            existing[emp.external_id] = emp
    new = [Employee(external_id=e, name=n) for e, n in wanted.items() if e not in existing]
    renamed = []
    for ext, name in wanted.items():
        emp = existing.get(ext)
        if emp is not None and name and emp.name != name:
            emp.name = name
            renamed.append(emp)
    if new:
        bulk_create_with_history(
            new, Employee, default_user=user, default_change_reason=CHANGE_REASON
        )
        for emp in Employee.objects.filter(external_id__in=[e.external_id for e in new]):
            existing[emp.external_id] = emp
    if renamed:
        bulk_update_with_history(
            renamed, Employee, ["name"], default_user=user, default_change_reason=CHANGE_REASON
        )
    return {ext: emp.pk for ext, emp in existing.items()}


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


def _flag_changes_after_invoicing(
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
        parts = [
            f"{FIELD_LABELS[f]} {_show(f, change.old[f])} -> {_show(f, change.new[f])}"
            for f in BILLING_FIELDS
            if change.old[f] != change.new[f]
        ]
        detail = (
            "The time tracker changed this entry after it was invoiced: "
            + "; ".join(parts)
            + ". The invoiced entry was kept."
        )
        hours = Decimal(change.old["duration_ms"]) / MS_PER_HOUR
        flag = flags.get(change.external_id)
        if flag is None:
            new_flags.append(
                Flag(
                    code=Flag.Code.CHANGED_AFTER_INVOICING,
                    subject=change.external_id,
                    entry_id=change.entry_id,
                    project_code=change.old["project_code"],
                    hours=hours,
                    detail=detail,
                )
            )
        else:
            status = flag.status
            if status == Flag.Status.RESOLVED:
                status = Flag.Status.OPEN
            if (flag.status, flag.detail) != (status, detail):
                flag.status, flag.detail, flag.resolved_at = status, detail, None
                changed_flags.append(flag)
        if len(result.notices) < 100:
            result.notices.append(
                f"Entry {change.external_id} is on an approved invoice and was not changed; "
                f"CHANGED_AFTER_INVOICING: {'; '.join(parts)}"
            )
    if len(changes) > 100:
        result.notices.append(f"... and {len(changes) - 100} more entries flagged.")
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


def _resolve_agreed_flags(external_ids: list[str], user: Any) -> None:
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


def entry_number(external_id: str) -> Decimal | None:
    number = ordering.entry_number(external_id)
    return Decimal(number) if number is not None else None


# --- PostgreSQL engine -------------------------------------------------------------------------

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
_ENTRY_COLUMNS = (
    "id, external_id, external_number, date, role, project_code, task, duration_ms, billable, "
    "approved, notes, locked, created_at, updated_at, employee_id, source, import_record_id"
)
# Stored row vs staged row, every field the import sets; and the billing fields only.
_ALL_DIFFER = (
    "(t.date, t.employee_id, t.role, t.project_code, t.task, t.duration_ms, t.billable, "
    "t.approved, t.notes) IS DISTINCT FROM (s.date, e.id, s.role, s.project_code, s.task, "
    "s.duration_ms, s.billable, s.approved, s.notes)"
)
_BILLING_DIFFER = (
    "(t.date, t.duration_ms, t.project_code, t.role, t.billable) IS DISTINCT FROM "
    "(s.date, s.duration_ms, s.project_code, s.role, s.billable)"
)
_HISTORY_INSERT = f"""
INSERT INTO timesheets_historicaltimeentry
    ({_ENTRY_COLUMNS}, history_date, history_change_reason, history_type, history_user_id)
SELECT {_ENTRY_COLUMNS}, statement_timestamp(), %(reason)s, %(kind)s, %(user)s FROM changed
"""
_UPDATE = f"""
WITH changed AS (
    UPDATE timesheets_timeentry t SET
        date = s.date, employee_id = e.id, role = s.role, project_code = s.project_code,
        task = s.task, duration_ms = s.duration_ms, billable = s.billable,
        approved = s.approved, notes = s.notes, updated_at = statement_timestamp(),
        source = %(source)s, import_record_id = %(record)s
    FROM {STAGE} s JOIN timesheets_employee e ON e.external_id = s.employee_ext
    WHERE t.external_id = s.external_id AND NOT t.locked AND {_ALL_DIFFER}
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


class _SqlStage:
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
                   {_BILLING_DIFFER} AS differs
            FROM {STAGE} s JOIN timesheets_timeentry t ON t.external_id = s.external_id
            WHERE t.locked AND ({_BILLING_DIFFER} OR EXISTS (
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
