"""Time-entry import (SPEC 1.2, issue 3): PostgreSQL COPY + set-based SQL."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from core import csvio
from tests.factories import EmployeeFactory, TimeEntryFactory
from tests.imports.data import entries_csv, entry, snapshot
from timesheets.importing import (
    COLUMNS,
    REQUIRED,
    import_entries,
    parse_hours,
    time_entry_import,
    time_entry_import_rows,
)
from timesheets.models import Employee, Flag, TimeEntry

pytestmark = pytest.mark.django_db


def run(data: bytes, **kw):
    return import_entries(csvio.CsvReader(data, columns=COLUMNS, required=REQUIRED), **kw)


def where(result):
    return [(e.line, e.column) for e in result.errors]


def rejected(data: bytes, expected: list[tuple[int, str]], message: str | None = None):
    before = snapshot()
    result = run(data)
    assert where(result) == expected, result.errors
    if message is not None:
        assert result.errors[0].message == message
    assert (result.created, result.updated, result.unchanged) == (0, 0, 0)
    assert snapshot() == before
    return result


# --- good files ---------------------------------------------------------------------------------


def test_import_creates_entries_employees_and_history(billing_admin):
    data = entries_csv(
        entry(Notes="first line\nsecond line"),
        entry(
            **{
                "Entry ID": "00123",
                "Date": "1/16/2026",
                "Hours": "1:30:30",
                "Billable": "N",
                "Approved": "",
            }
        ),
        entry(
            **{
                "Entry ID": "A-7",
                "Employee ID": "E2",
                "Employee Name": "",
                "Role": "",
                "Hours": "0.0001",
                "Approved": "FALSE",
                "Billable": "1",
            }
        ),
    )
    result = run(data, user=billing_admin)
    assert result.ok, result.errors
    assert (result.created, result.updated, result.unchanged) == (3, 0, 0)
    rows = {
        e.external_id: (
            e.external_number,
            e.date,
            e.employee.external_id,
            e.role,
            e.duration_ms,
            e.billable,
            e.approved,
            e.notes,
            e.locked,
        )
        for e in TimeEntry.objects.select_related("employee")
    }
    assert rows == {
        "1001": (
            Decimal(1001),
            dt.date(2026, 1, 15),
            "E1",
            "Engineer",
            5_400_000,
            True,
            True,
            "first line\nsecond line",
            False,
        ),
        "00123": (
            Decimal(123),
            dt.date(2026, 1, 16),
            "E1",
            "Engineer",
            5_430_000,
            False,
            True,
            "",
            False,
        ),
        "A-7": (None, dt.date(2026, 1, 15), "E2", "", 360, True, False, "", False),
    }
    assert sorted(Employee.objects.values_list("external_id", "name")) == [
        ("E1", "Ann Smith"),
        ("E2", ""),
    ]
    history = TimeEntry.history.all()
    assert history.count() == 3
    assert {(h.history_type, h.history_user_id, h.history_change_reason) for h in history} == {
        ("+", billing_admin.pk, "time entry import")
    }
    assert {h.history_user_id for h in Employee.history.all()} == {billing_admin.pk}


def test_reimport_of_the_same_file_changes_nothing():
    data = entries_csv(entry(), entry(**{"Entry ID": "1002", "Hours": "2"}))
    assert run(data).created == 2
    before = snapshot()
    again = run(data)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 2, [])
    assert snapshot() == before


def test_changed_row_is_updated_with_history(billing_admin, services_manager):
    run(entries_csv(entry(), entry(**{"Entry ID": "1002"})), user=billing_admin)
    result = run(
        entries_csv(
            entry(Hours="2:15", Notes="reviewed", **{"Employee Name": "Ann Jones"}),
            entry(**{"Entry ID": "1002", "Employee Name": ""}),
            entry(**{"Entry ID": "1003", "Employee Name": "Ann Jones"}),
        ),
        user=services_manager,
    )
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    changed = TimeEntry.objects.get(external_id="1001")
    assert (changed.duration_ms, changed.notes) == (8_100_000, "reviewed")
    latest = changed.history.first()
    assert (latest.history_type, latest.history_user, latest.duration_ms) == (
        "~",
        services_manager,
        8_100_000,
    )
    assert latest.prev_record.duration_ms == 5_400_000
    assert TimeEntry.objects.get(external_id="1002").history.count() == 1
    ann = Employee.objects.get(external_id="E1")
    assert ann.name == "Ann Jones"
    assert ann.history.first().history_user == services_manager


def test_empty_employee_name_keeps_the_stored_one():
    EmployeeFactory(external_id="E1", name="Ann Smith")
    assert run(entries_csv(entry(**{"Employee Name": ""}))).ok
    assert Employee.objects.get(external_id="E1").name == "Ann Smith"


def test_dry_run_counts_but_writes_nothing():
    run(entries_csv(entry()))
    before = snapshot()
    result = run(
        entries_csv(entry(Hours="3"), entry(**{"Entry ID": "2", "Employee ID": "E9"})),
        dry_run=True,
    )
    assert (result.ok, result.dry_run, result.created, result.updated) == (True, True, 1, 1)
    assert snapshot() == before


def test_bom_crlf_and_header_case_are_accepted():
    data = entries_csv(
        entry(Notes='said "hi"\r\nthen left'),
        entry(**{"Entry ID": "1002"}),
        line_end="\r\n",
        bom=True,
    )
    data = data.replace(b"Entry ID,Date", b"  entry id ,DATE", 1)
    result = run(data)
    assert (result.created, result.errors) == (2, [])
    assert TimeEntry.objects.get(external_id="1001").notes == 'said "hi"\r\nthen left'


# --- CHANGED_AFTER_INVOICING ---------------------------------------------------------------------


def test_invoiced_entry_is_never_changed_and_gets_a_flag(billing_admin):
    run(entries_csv(entry(), entry(**{"Entry ID": "1002"})))
    TimeEntry.objects.filter(external_id="1001").update(locked=True)
    before_entry = TimeEntry.objects.values().get(external_id="1001")
    history_before = TimeEntry.history.count()

    data = entries_csv(
        entry(Hours="2", Date="2026-01-16", Notes="late fix"), entry(**{"Entry ID": "1002"})
    )
    result = run(data, user=billing_admin)
    assert result.ok
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert TimeEntry.objects.values().get(external_id="1001") == before_entry
    assert TimeEntry.history.count() == history_before
    flag = Flag.objects.get()
    assert (flag.code, flag.subject, flag.status, flag.entry.external_id) == (
        "CHANGED_AFTER_INVOICING",
        "1001",
        "open",
        "1001",
    )
    assert flag.detail == (
        "The time tracker changed this entry after it was invoiced: Date 2026-01-15 -> 2026-01-16; "
        "Hours 1.5 -> 2. The invoiced entry was kept."
    )
    assert (flag.project_code, flag.hours) == ("PRJ-1", Decimal("1.5"))
    assert flag.history.get().history_user == billing_admin
    assert [n for n in result.notices if n.startswith("Entry ")] == [
        "Entry 1001 is on an approved invoice and was not changed; CHANGED_AFTER_INVOICING: "
        "Date 2026-01-15 -> 2026-01-16; Hours 1.5 -> 2"
    ]

    # The same file again: one flag, no new history.
    before = snapshot()
    assert run(data).ok
    assert snapshot() == before

    # The tracker agrees with the invoice again: the flag's cause has gone.
    assert run(entries_csv(entry(), entry(**{"Entry ID": "1002"}))).ok
    flag.refresh_from_db()
    assert flag.status == "resolved"
    assert TimeEntry.objects.values().get(external_id="1001") == before_entry


def test_invoiced_entry_with_only_notes_changed_is_left_alone_without_flag():
    run(entries_csv(entry()))
    TimeEntry.objects.update(locked=True)
    before = snapshot()
    result = run(entries_csv(entry(Notes="typo fixed", Task="Other")))
    assert (result.unchanged, [n for n in result.notices if n.startswith("Entry ")]) == (1, [])
    assert snapshot() == before


@pytest.mark.parametrize(
    ("column", "value", "change"),
    [
        ("Project Code", "PRJ-2", "Project Code PRJ-1 -> PRJ-2"),
        ("Role", "", "Role Engineer -> (empty)"),
        ("Billable", "no", "Billable yes -> no"),
    ],
)
def test_each_billing_field_change_is_flagged(column, value, change):
    run(entries_csv(entry()))
    TimeEntry.objects.update(locked=True)
    assert run(entries_csv(entry(**{column: value}))).ok
    assert change in Flag.objects.get(code="CHANGED_AFTER_INVOICING").detail


# --- one test per validation rule ----------------------------------------------------------------


def test_missing_required_column():
    data = b"Entry ID,Date,Employee ID,Project Code,Billable\n1,2026-01-01,E1,P,yes\n"
    rejected(data, [(1, "Hours")], "required column is missing from the header")


@pytest.mark.parametrize(
    "column", ["Entry ID", "Date", "Employee ID", "Project Code", "Hours", "Billable"]
)
def test_required_value_missing(column):
    rejected(
        entries_csv(entry(), entry(**{"Entry ID": "2", column: ""})),
        [(3, column)],
        "is required",
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        # CsvReader reads SPEC's layout without the 1.4 value conventions (test_sources.py has
        # the date orders).
        ("Date", "2026.01.15", "must be a date as YYYY-MM-DD or MM/DD/YYYY, got '2026.01.15'"),
        ("Date", "13/01/2026", "is not a real date, got '13/01/2026'"),
        ("Hours", "0", "must be more than 0 and at most 24, got '0'"),
        ("Hours", "24.01", "must be more than 0 and at most 24, got '24.01'"),
        ("Hours", "-1", "must be more than 0 and at most 24, got '-1'"),
        (
            "Hours",
            "1.23456",
            "must have at most 4 decimal places (whole milliseconds), got '1.23456'",
        ),
        ("Hours", "1:75", "must be decimal hours (1.5) or H:MM / H:MM:SS (1:30), got '1:75'"),
        ("Hours", "1h30", "must be decimal hours (1.5) or H:MM / H:MM:SS (1:30), got '1h30'"),
        ("Hours", "24:00:01", "must be more than 0 and at most 24, got '24:00:01'"),
        ("Billable", "maybe", "must be yes/no, y/n, true/false or 1/0, got 'maybe'"),
        ("Approved", "approved", "must be yes/no, y/n, true/false or 1/0, got 'approved'"),
        ("Entry ID", "X" * 65, "must be at most 64 characters (it has 65)"),
        ("Project Code", "P" * 65, "must be at most 64 characters (it has 65)"),
        ("Role", "R" * 101, "must be at most 100 characters (it has 101)"),
    ],
)
def test_field_format_rules(column, value, message):
    rejected(entries_csv(entry(**{column: value})), [(2, column)], message)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("24", 86_400_000),
        ("24:00", 86_400_000),
        ("0:01", 60_000),
        ("7.25", 26_100_000),
        (".5", 1_800_000),
        ("1.50000", 5_400_000),
        ("0:00:01", 1000),
    ],
)
def test_hours_formats(text, ms):
    assert parse_hours(text) == ms


def test_repeated_entry_id_counts_physical_lines():
    data = entries_csv(
        entry(Notes="two\nlines"), entry(**{"Entry ID": "1002"}), entry(Notes="again")
    )
    # Header = line 1, the first row spans lines 2-3, so the repeat is on physical line 5.
    rejected(data, [(5, "Entry ID")], "1001 repeats line 2")


def test_row_with_the_wrong_number_of_fields():
    data = (
        entries_csv(entry()) + b"1002,2026-01-15,E1,Ann,Engineer,PRJ-1,Build, extra,1.5,yes,yes,\n"
    )
    rejected(
        data,
        [(3, "File")],
        "has 12 fields but the header has 11 (a comma in an unquoted value?)",
    )


def test_every_problem_is_listed_in_line_order():
    data = entries_csv(
        entry(Hours="x"),
        entry(**{"Entry ID": "2", "Date": "", "Billable": "?"}),
        entry(**{"Entry ID": "2"}),
        entry(**{"Entry ID": "1001"}),
    )
    result = rejected(data, [(2, "Hours"), (3, "Date"), (3, "Billable")])
    # Repeats are checked once every row is well-formed, so they are not reported yet.
    assert len(result.errors) == 3


def test_errors_are_capped_with_a_summary():
    rows = [entry(**{"Entry ID": str(i), "Hours": "x"}) for i in range(1005)]
    result = rejected(entries_csv(*rows), [(n, "Hours") for n in range(2, 1002)] + [(0, "File")])
    assert result.errors[-1].message == "5 more problem(s) not listed; fix these and import again"


# --- bad files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", 0, "the file is empty"),
        (b"\xef\xbb\xbf\r\n\r\n", 0, "the file is empty"),
        (",".join(COLUMNS).encode() + b"\r\n", 0, "the file has a header row but no data rows"),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            0,
            "the file contains binary data (NUL bytes); upload the CSV export",
        ),
        (
            b"%PDF-1.4\n\x00\x01binary",
            0,
            "the file contains binary data (NUL bytes); upload the CSV export",
        ),
        (
            ",".join(COLUMNS).encode() + b"\n\xff\xfe1,2\n",
            2,
            "has 2 fields but the header has 11 (a comma in an unquoted value?)",
        ),
    ],
)
def test_bad_files_get_a_clear_message(data, line, message):
    rejected(data, [(line, "File")], message)


def test_latin1_file_is_read_as_windows_1252_and_says_so():
    data = entries_csv(entry(), entry(**{"Entry ID": "2", "Notes": "café"})).replace(
        "café".encode(), "café".encode("latin-1")
    )
    result = time_entry_import(file=data)
    assert result.ok and result.created == 2
    assert "The file was read as Windows-1252." in result.notices
    assert TimeEntry.objects.get(external_id="2").notes == "café"


def test_unclosed_quote():
    data = (
        entries_csv(entry())
        + b'1002,2026-01-15,E1,Ann,Engineer,PRJ-1,Build,1.5,yes,yes,"never closed\nmore\n'
    )
    rejected(data, [(3, "File")], "a quoted value that starts on line 3 is never closed")


def test_file_larger_than_the_limit(settings, tmp_path):
    settings.BILLING_IMPORT_MAX_BYTES = 300
    data = entries_csv(*[entry(**{"Entry ID": str(i)}) for i in range(10)])
    assert len(data) > 300
    rejected(data, [(0, "File")], "the file is larger than the import limit of 300 bytes")
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    before = snapshot()
    result = time_entry_import(file=str(path))
    assert [str(e) for e in result.errors] == [
        "line 0: File: the file is larger than the import limit of 300 bytes"
    ]
    assert snapshot() == before


def test_stream_of_unknown_size_is_cut_at_the_limit(settings):
    settings.BILLING_IMPORT_MAX_BYTES = 300

    class Pipe:  # no size, no fileno: only read/readline
        def __init__(self, data):
            import io

            self._f = io.BytesIO(data)

        def read(self, n=-1):
            return self._f.read(n)

        def readline(self, n=-1):
            return self._f.readline(n)

    data = entries_csv(*[entry(**{"Entry ID": str(i)}) for i in range(10)])
    before = snapshot()
    result = import_entries(csvio.CsvReader(Pipe(data), columns=COLUMNS, required=REQUIRED))
    assert where(result) == [(0, "File")]
    assert snapshot() == before


# --- JSON rows and the command ---------------------------------------------------------------------


def test_json_rows_variant(billing_admin):
    rows = [
        entry(),
        {**entry(), "Entry ID": "1002", "Hours": 2, "Billable": True, "Approved": None},
    ]
    result = time_entry_import_rows(rows=rows, user=billing_admin)
    assert (result.created, result.errors) == (2, [])
    e = TimeEntry.objects.get(external_id="1002")
    assert (e.duration_ms, e.billable, e.approved) == (7_200_000, True, True)
    before = snapshot()
    bad = time_entry_import_rows(
        rows=[entry(), {**entry(), "Entry ID": "1003", "Hours": "25"}, "nope"]
    )
    assert where(bad) == [(4, "File")]
    bad = time_entry_import_rows(rows=[entry(), {**entry(), "Entry ID": "1003", "Hours": "25"}])
    assert where(bad) == [(3, "Hours")]
    assert where(time_entry_import_rows(rows=[])) == [(0, "File")]
    assert snapshot() == before


def test_command_exit_codes_json_and_stderr(tmp_path, capsys):
    good = tmp_path / "entries.csv"
    good.write_bytes(entries_csv(entry(), entry(**{"Entry ID": "1002"})))
    call_command("import_time_entries", str(good), "--dry-run")
    assert (
        capsys.readouterr().out.strip()
        == "Dry run, nothing written: 2 created, 0 updated, 0 unchanged\n"
        "Source: Billable (SPEC 1.2) (detected from the header).\n"
        "Entries name Project Codes that no agreement has: PRJ-1 (2); reconciliation flags them "
        "NO_AGREEMENT until the agreement is imported."
    )
    assert not TimeEntry.objects.exists()
    call_command("import_time_entries", str(good), "--json")
    assert json.loads(capsys.readouterr().out) == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }

    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        entries_csv(entry(Hours="0"), entry(**{"Entry ID": "1002", "Date": "tomorrow"}))
    )
    before = snapshot()
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_time_entries", str(bad))
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "line 2: Hours: must be more than 0 and at most 24, got '0'",
        "line 3: Date: must be a date as YYYY-MM-DD or in month/day/year order, got 'tomorrow'",
    ]
    assert snapshot() == before


def test_existing_entries_from_factories_are_matched_by_entry_id():
    TimeEntryFactory(
        external_id="1001",
        employee=EmployeeFactory(external_id="E1", name="Ann Smith"),
        project_code="PRJ-1",
        task="Build",
        notes="",
        duration_ms=5_400_000,
        date=dt.date(2026, 1, 15),
    )
    result = run(entries_csv(entry()))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)


def test_nul_byte_after_the_first_block_names_its_line():
    rows = [entry(**{"Entry ID": str(i), "Notes": "x" * 100}) for i in range(100)]
    data = entries_csv(*rows)
    lines = data.split(b"\n")
    lines[90] = lines[90][:-1] + b"\x00"
    rejected(
        b"\n".join(lines),
        [(91, "File")],
        "the file contains binary data (NUL bytes); upload the CSV export",
    )
