"""One row of a time-entry import (SPEC 1.2): checked in Python, staged for the database.

``_Checker.check(row)`` turns a ``csvio.Row`` into a ``Staged`` row or records its problems
(at most ``MAX_ERRORS`` are kept); parsed dates and hours are cached, because exports repeat them
on every line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core import csvio
from core.imports import RowError
from timesheets.models import MS_PER_HOUR

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
MAX_DAY_MS = 24 * MS_PER_HOUR
_DECIMAL_HOURS = re.compile(r"(\d*)(?:\.(\d*))?")
_CLOCK_HOURS = re.compile(r"(\d+):([0-5]\d)(?::([0-5]\d))?")
_BOOLS = {
    "yes": True, "y": True, "true": True, "1": True,
    "no": False, "n": False, "false": False, "0": False,
}  # fmt: skip
_HOURS_FORMAT = "must be decimal hours (1.5) or H:MM / H:MM:SS (1:30)"


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


class Checker:
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
        if self.error_count != before or iso is None or ms is None or bill is None or appr is None:
            return None  # each None above came with its error
        if emp_name:
            self.employees[emp_id] = emp_name
        else:
            self.employees.setdefault(emp_id, "")
        return Staged(
            line, entry_id, iso, emp_id, emp_name, role, project, task, ms, bill, appr, notes
        )

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


def listed_errors(checker: Checker) -> list[RowError]:
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
