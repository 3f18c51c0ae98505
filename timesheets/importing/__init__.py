"""Importing the time tracker's export (SPEC 1.2), fast enough for a million rows.

``time_entry_import(*, file, user=None, dry_run=False)`` reads a CSV (bytes, a path or a binary file
object); ``time_entry_import_rows(*, rows, user=None, dry_run=False)`` takes a JSON list of objects
keyed by the SPEC column names (line = index + 2). Both return an ``ImportResult``; with any error
nothing is written (all or nothing, one transaction).

How it runs
-----------
1. Rows are streamed from the reader and checked in Python (``rows``: formats, lengths, hours).
2. Valid rows go through ``COPY`` into a TEMP staging table and are written with set-based SQL
   (``stage``), changed rows only by the one "changed" rule (``changes``).
3. An entry already on an approved invoice (``TimeEntry.locked``) is never changed. If the file
   differs from it in Date, Hours, Project Code, Role or Billable, a ``CHANGED_AFTER_INVOICING`` flag
   is raised (or reopened) naming each change old -> new; the row counts as unchanged. When the file
   agrees with the invoiced entry again, an open flag of that kind is resolved (``flags``).
4. Employees are created from Employee ID / Employee Name; a non-empty name updates the stored one
   (the last non-empty name in the file wins). Employees are few, so this is plain ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from agreements.importing import lock_imports
from core import csvio
from core.imports import (
    ImportFile,
    ImportResult,
    import_record_create,
    import_record_finish,
    import_transaction,
)
from core.reading import ReadOptions, Schema, SourceSet, TableReader, describe_file
from timesheets import sources
from timesheets.importing.flags import flag_changes_after_invoicing, resolve_agreed_flags
from timesheets.importing.rows import (
    CHANGE_REASON,
    COLUMNS,
    MAX_ERRORS,
    REQUIRED,
    Checker,
    Staged,
    listed_errors,
    parse_hours,
)
from timesheets.importing.stage import ENTRY_COLUMNS, SqlStage
from timesheets.models import Employee
from timesheets.services import unbilled_snapshots_refresh_later

__all__ = [
    "CHANGE_REASON",
    "COLUMNS",
    "ENTRY_COLUMNS",
    "MAX_ERRORS",
    "REQUIRED",
    "SCHEMA",
    "SOURCES",
    "Staged",
    "import_entries",
    "parse_hours",
    "time_entry_import",
    "time_entry_import_rows",
]

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
    progress: Callable[[int, str], None] | None = None,
) -> ImportResult:
    """``options``: source, mapping, encoding, delimiter, sheet, date order, decimal (SPEC 1.4);
    ``progress(rows, phase)`` is told how far the import is (a background import's bar)."""
    reader = TableReader(file, sources=SOURCES, options=options)
    return import_entries(
        reader,
        user=user,
        dry_run=dry_run,
        replace_period=replace_period,
        file_info=None if dry_run else describe_file(file, file_name),
        progress=progress,
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


def import_entries(
    source: Iterable[csvio.Row],
    *,
    user: Any = None,
    dry_run: bool = False,
    replace_period: bool = False,
    file_info: ImportFile | None = None,
    progress: Callable[[int, str], None] | None = None,
) -> ImportResult:
    """Check and write rows from ``source`` (a TableReader, a CsvReader or a list of Rows): COPY
    into a staging table, then set-based SQL. ``file_info`` (not for a dry run) records the import
    in the history; ``replace_period`` removes the source's entries of the file's period that it
    no longer has."""
    reader = source if isinstance(source, TableReader) else None
    result = ImportResult(dry_run=dry_run)
    checker = Checker()
    with import_transaction(dry_run=dry_run):
        lock_imports("time_entries")
        writer = SqlStage()
        try:
            writer.open()
            _stage_rows(source, checker, writer, result, progress)
            if checker.error_count:
                errors = listed_errors(checker)
                result.errors = reader.relabel(errors) if reader else errors
                return result
            _write(reader, writer, checker, result, user=user, file_info=file_info,
                   replace_period=replace_period)  # fmt: skip
        finally:
            writer.close()
    return result


def _stage_rows(
    source: Iterable[csvio.Row], checker: Checker, writer: SqlStage, result: ImportResult,
    progress: Callable[[int, str], None] | None = None,
) -> None:  # fmt: skip
    """Check every row and COPY the valid ones; then find repeated Entry IDs in the stage."""
    count = 0
    try:
        for count, row in enumerate(source, 1):
            staged = checker.check(row)
            if staged is not None:
                writer.add(staged)
            if progress is not None and not count % 1000:
                progress(count, "reading")
    except csvio.CsvFileError as exc:
        checker.error_count += 1
        checker.errors.append(exc.error)
        result.unknown_header = getattr(exc, "header", [])
    finally:
        for error in getattr(source, "errors", ()):
            checker.add(error.line, error.column, error.message)
    if progress is not None:
        progress(count, "writing")
    if not checker.error_count:
        writer.flush()
        for line, entry_id, first in writer.repeated_ids():
            checker.add(line, "Entry ID", f"{entry_id} repeats line {first}")


def _write(
    reader: TableReader | None, writer: SqlStage, checker: Checker, result: ImportResult, *,
    user: Any, file_info: ImportFile | None, replace_period: bool,
) -> None:  # fmt: skip
    """The file passed every check: record it, write the entries, flag, replace the period."""
    result.source = reader.source.name if reader and reader.source else "billable"
    result.notices.extend(reader.notices if reader else [])
    result.notices.extend(_unknown_projects_notice(writer.unknown_projects()))
    record = None
    if file_info is not None and not result.dry_run:
        record = import_record_create(
            kind="time_entries",
            source=result.source,
            user=user,
            file=file_info,
            encoding=reader.encoding if reader else "",
            options=reader.options.as_json() if reader else {},
        )
    employees = _upsert_employees(checker.employees, user)
    writer.write(result, employees=employees, user=user, source=result.source, record=record)
    flag_changes_after_invoicing(writer.locked_changes(), user, result)
    resolve_agreed_flags(writer.locked_agreeing(), user)
    unbilled_snapshots_refresh_later()  # after commit: the KPI tile's stored value
    if replace_period:
        from timesheets.import_history import replace_period as remove_missing

        remove_missing(writer.missing(result.source), user=user, result=result)
    if record is not None:
        import_record_finish(record=record, result=result, deleted=result.deleted)
        result.import_id = record.pk


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


def _upsert_employees(wanted: dict[str, str], user: Any) -> dict[str, int]:
    existing: dict[str, Employee] = {}
    ids = sorted(wanted)
    for i in range(0, len(ids), 2000):
        for emp in Employee.objects.filter(external_id__in=ids[i : i + 2000]):
            existing[emp.external_id] = emp
    new = [Employee(external_id=e, name=n) for e, n in wanted.items() if e not in existing]
    renamed = []
    for ext, name in wanted.items():
        stored = existing.get(ext)
        if stored is not None and name and stored.name != name:
            stored.name = name
            renamed.append(stored)
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
