"""The bench's time-entry file in each time tracker's own layout (SPEC 1.4, issue 19 "Speed").

``write_source_file(src, source, out)`` streams the SPEC 1.2 file ``src`` into the export layout
of ``source`` (harvest, toggl, clockify, kimai, tempo) as ``timesheets/sources.py`` reads it;
``write_xlsx(src, out)`` writes the same SPEC 1.2 rows as an XLSX sheet (openpyxl write-only).
The rows are the same entries: same dates, projects, billable flags and durations (exact where the
layout writes a clock duration or seconds; decimal hours to 4 places, as Harvest and Tempo write
them, are within 0.01 minute). Employees become what each tracker writes (names, e-mails), so the
derived Entry IDs differ from the file's; ``SAME_ROWS`` is the fingerprint that must not.

Each layout writes what its vendor's export has: Harvest's detailed time report (names split,
``Billable?`` Yes/No), Toggl's detailed report (``HH:MM:SS`` durations, start and end times),
Clockify's detailed report (every field quoted, US dates, 12-hour times), Kimai's German export
(``;``, ``DD.MM.YYYY``, seconds: import it with ``--date-order dmy``), a Tempo worklog export
(39 columns with ``Epic Link`` twice, ``2026-11-3 09:00`` work dates, Billed Hours 0 = not billable).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SOURCES = ("harvest", "toggl", "clockify", "kimai", "tempo")
# Per source: the options its import needs beyond --source (the rest is sniffed).
OPTIONS: dict[str, dict[str, str]] = {"kimai": {"date_order": "dmy"}}
# What must be equal however the rows were written: count, and every entry's date, project,
# billable flag and duration in whole minutes.
SAME_ROWS = """
SELECT count(*), md5(string_agg(concat_ws('|', date, project_code, billable,
                                          round(duration_ms / 60000.0)), ',' ORDER BY 1))
FROM (SELECT date, project_code, billable, duration_ms FROM timesheets_timeentry
      ORDER BY date, project_code, billable, duration_ms) e
"""
_TRUE = frozenset({"yes", "y", "true", "1"})
_DAY_START = 8 * 60  # minutes: the first entry of an employee's day starts at 08:00


class Entry:
    """One SPEC 1.2 row, parsed: what each layout writes its own way."""

    __slots__ = ("approved", "billable", "date", "employee", "minutes_start", "ms", "name")
    __slots__ += ("notes", "project", "role", "task")

    def __init__(self, row: dict[str, str], starts: dict[tuple[str, dt.date], int]) -> None:
        self.date = _date(row["Date"])
        self.employee, self.name = row["Employee ID"], row["Employee Name"] or row["Employee ID"]
        self.role, self.project, self.task = row["Role"], row["Project Code"], row["Task"]
        self.notes = row["Notes"]
        self.billable = row["Billable"].strip().lower() in _TRUE
        self.approved = row["Approved"].strip().lower() in _TRUE if row["Approved"] else True
        self.ms = _ms(row["Hours"])
        key = (self.employee, self.date)
        self.minutes_start = starts.get(key, _DAY_START) % (24 * 60)
        starts[key] = self.minutes_start + -(-self.ms // 60000)

    @property
    def seconds(self) -> int:
        return round(self.ms / 1000)

    def hours(self) -> str:
        return f"{self.ms / 3_600_000:.4f}".rstrip("0").rstrip(".")

    def clock(self) -> str:
        s = self.seconds
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    def start(self, fmt: str = "%H:%M:%S") -> str:
        return (
            dt.datetime.combine(self.date, dt.time()) + dt.timedelta(minutes=self.minutes_start)
        ).strftime(fmt)

    def end(self, fmt: str = "%H:%M:%S") -> str:
        begin = dt.datetime.combine(self.date, dt.time()) + dt.timedelta(minutes=self.minutes_start)
        return (begin + dt.timedelta(milliseconds=self.ms)).strftime(fmt)

    @property
    def email(self) -> str:
        return f"{self.employee.lower()}@firm.example"


def _date(text: str) -> dt.date:
    text = text.strip()
    if "/" in text:  # the bench file's US dates
        month, day, year = (int(p) for p in text.split("/"))
        return dt.date(year, month, day)
    return dt.date.fromisoformat(text[:10])


def _ms(text: str) -> int:
    text = text.strip()
    if ":" in text:
        parts = [int(p) for p in text.split(":")] + [0]
        return (parts[0] * 3600 + parts[1] * 60 + parts[2]) * 1000
    whole, _, fraction = text.partition(".")
    return int(whole or 0) * 3_600_000 + int(fraction[:4].ljust(4, "0")) * 360


def _yes(flag: bool, yes: str = "Yes", no: str = "No") -> str:
    return yes if flag else no


def _harvest(e: Entry) -> list[Any]:
    first, _, last = e.name.partition(" ")
    return [e.date.isoformat(), "Client", e.project, e.project, e.task, e.notes, e.hours(),
            e.hours(), _yes(e.billable), "No", _yes(e.approved), first, last, e.role, "Yes",
            "", "", "", "", "US Dollar - USD", ""]  # fmt: skip


def _toggl(e: Entry) -> list[Any]:
    day = e.date.isoformat()
    return [e.name, e.email, "Client", e.project, e.task, e.notes, _yes(e.billable), day,
            e.start(), day, e.end(), e.clock(), "", ""]  # fmt: skip


def _clockify(e: Entry) -> list[Any]:
    day = e.date.strftime("%m/%d/%Y")
    return [e.project, "Client", e.notes, e.task, e.name, "", e.email, "", _yes(e.billable), day,
            e.start("%I:%M:%S %p"), day, e.end("%I:%M:%S %p"), e.clock(),
            f"{e.ms / 3_600_000:.2f}", "", ""]  # fmt: skip


def _kimai(e: Entry) -> list[Any]:
    return [e.date.strftime("%d.%m.%Y"), e.start("%H:%M"), e.end("%H:%M"), e.seconds, "",
            e.name, "Kunde", e.project, e.task, e.notes, "Nein", "", "",
            _yes(e.billable, "Ja", "Nein")]  # fmt: skip


TEMPO_HEADER = (
    "Issue Key,Issue summary,Hours,Work date,Username,Full name,Period,Account Key,Account Name,"
    "Account Lead,Account Category,Account Customer,Activity Name,Component,All Components,"
    "Version Name,Issue Type,Issue Status,Project Key,Project Name,Epic,Epic Link,"
    "Work Description,Parent Key,Reporter,External Hours,Billed Hours,Issue Original Estimate,"
    "Issue Remaining Estimate,Location Name,Worker,Team,Epic Link,Sprint,Labels,Priority,Created,"
    "Updated,Approval Status"
).split(",")


def _tempo(e: Entry) -> list[Any]:
    d = e.date
    when = f"{d.year}-{d.month}-{d.day} {e.start('%H:%M')}"
    hours = e.hours()
    return [e.task or "TASK-1", e.task, hours, when, e.employee.lower(), e.name,
            d.strftime("%b %Y"), "", "", "", "", "", e.task, "", "", "", "Task", "Done", e.project,
            e.project, "", "", e.notes, "", "", hours, hours if e.billable else "0", "", "", "",
            "", "", "", "", "", "Medium", "", "", "approved" if e.approved else "open"]  # fmt: skip


LAYOUTS: dict[str, tuple[list[str], Callable[[Entry], list[Any]], dict[str, Any]]] = {
    "harvest": (
        "Date,Client,Project,Project Code,Task,Notes,Hours,Hours Rounded,Billable?,Invoiced?,"
        "Approved?,First Name,Last Name,Roles,Employee?,Billable Rate,Billable Amount,Cost Rate,"
        "Cost Amount,Currency,External Reference URL".split(","),
        _harvest,
        {},
    ),
    "toggl": (
        "User,Email,Client,Project,Task,Description,Billable,Start date,Start time,End date,"
        "End time,Duration,Tags,Amount (USD)".split(","),
        _toggl,
        {},
    ),
    "clockify": (
        "Project,Client,Description,Task,User,Group,Email,Tags,Billable,Start Date,Start Time,"
        "End Date,End Time,Duration (h),Duration (decimal),Billable Rate (USD),"
        "Billable Amount (USD)".split(","),
        _clockify,
        {"quoting": csv.QUOTE_ALL},
    ),
    "kimai": (
        "Datum;Von;Bis;Dauer;Preis;Benutzer;Kunde;Projekt;Tätigkeit;Beschreibung;Exportiert;"
        "Schlagworte;Stundensatz;Abrechenbar".split(";"),
        _kimai,
        {"delimiter": ";"},
    ),
    "tempo": (TEMPO_HEADER, _tempo, {}),
}


def entries(src: Path) -> Iterator[Entry]:
    starts: dict[tuple[str, dt.date], int] = {}
    with src.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            yield Entry(row, starts)


def write_source_file(src: Path, source: str, out: Path) -> Path:
    header, convert, dialect = LAYOUTS[source]
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n", **dialect)
        writer.writerow(header)
        writer.writerows(convert(e) for e in entries(src))
    return out


def write_xlsx(src: Path, out: Path) -> Path:
    """The SPEC 1.2 file as the first sheet of a workbook, cells as text (as a firm saves it)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Time entries")
    with src.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.reader(fh):
            sheet.append(row)
    book.save(out)
    return out
