"""Real exports import as they are (SPEC 1.4): one fixture per source in tests/imports/fixtures/,
built from each vendor's documented export; each imports as the firm expects, re-imports change
nothing, and the variants real files show (encodings, delimiters, locales, footers, duplicate
columns, Excel IDs, dates in either order) are read or refused with a clear message."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from agreements.models import Agreement
from agreements.services import agreement_import, agreement_import_rows
from core.imports import RowError
from core.models import ImportRecord
from core.reading import ReadOptions, parse_mapping
from tests.imports.data import snapshot
from timesheets.importing import SOURCES, time_entry_import, time_entry_import_rows
from timesheets.models import Employee, TimeEntry

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def entries():
    return [
        (
            e.employee.external_id,
            e.employee.name,
            e.date.isoformat(),
            e.project_code,
            e.task,
            e.hours,
            e.billable,
            e.approved,
            e.notes,
            e.role,
            e.source,
        )
        for e in TimeEntry.objects.select_related("employee").order_by(
            "date", "employee__name", "pk"
        )
    ]


def imported_twice(data: bytes, **kw):
    first = time_entry_import(file=data, **kw)
    assert first.ok, first.errors
    ids = sorted(TimeEntry.objects.values_list("external_id", flat=True))
    before = snapshot()
    again = time_entry_import(file=data, **kw)
    assert again.ok and (again.created, again.updated) == (0, 0), again.errors
    assert again.unchanged == first.created
    assert snapshot() == before
    return first, ids


def test_harvest_detailed_time_report(billing_admin):
    result, ids = imported_twice(fixture("harvest.csv"), user=billing_admin)
    assert (result.created, result.source) == (3, "harvest")
    assert result.notices[0] == "Source: Harvest detailed time report (detected from the header)."
    assert all(i.startswith("harvest:") and len(i) == 24 for i in ids)
    assert entries() == [
        ("Ann Smith", "Ann Smith", "2026-11-02", "ACME-WEB", "Design", Decimal("3.5"), True, True,
         "Homepage, second round", "Designer", "harvest"),
        ("Bo Chen", "Bo Chen", "2026-11-02", "Support retainer", "Support", Decimal("0.75"), True,
         False, "Ticket 4411", "Engineer", "harvest"),
        ("Ann Smith", "Ann Smith", "2026-11-03", "Internal", "Admin", Decimal("1"), False, True, "",
         "Designer", "harvest"),
    ]  # fmt: skip
    record = ImportRecord.objects.order_by("pk").first()
    assert (record.kind, record.source, record.user, record.file_name, record.created) == (
        "time_entries", "harvest", billing_admin, "", 3
    )  # fmt: skip
    assert len(record.sha256) == 64 and record.size == len(fixture("harvest.csv"))


def test_toggl_detailed_report_identical_rows_get_their_own_keys():
    result, ids = imported_twice(fixture("toggl.csv"))
    assert (result.created, result.source) == (3, "toggl")
    assert len(set(ids)) == 3
    assert entries() == [
        ("ann@example.com", "Ann Smith", "2026-11-02", "ACME-WEB", "Design", Decimal("1.5"), True,
         True, "Design, round 2", "", "toggl"),
        ("ann@example.com", "Ann Smith", "2026-11-02", "ACME-WEB", "Design", Decimal("1.5"), True,
         True, "Design, round 2", "", "toggl"),
        ("Bo Chen", "Bo Chen", "2026-11-03", "ACME-SUP", "", Decimal("0.25"), False, True,
         "Standup", "", "toggl"),
    ]  # fmt: skip


def test_clockify_quoted_us_dates_and_12_hour_times():
    result, _ = imported_twice(fixture("clockify.csv"))
    assert (result.created, result.source) == (2, "clockify")
    assert [e[:6] for e in entries()] == [
        ("ann@example.com", "Ann Smith", "2026-11-02", "ACME-WEB", "Design", Decimal("2")),
        ("bo@example.com", "Bo Chen", "2026-11-13", "ACME-SUP", "", Decimal("0.75")),
    ]


def test_clockify_in_day_month_order_is_refused_naming_the_order_that_fits():
    data = fixture("clockify.csv").replace(b"11/13/2026", b"13/11/2026")
    before = snapshot()
    result = time_entry_import(file=data)
    assert result.errors == [
        RowError(
            3,
            "Start Date",
            "'13/11/2026' is not a date in month/day/year order; it fits day/month/year: import "
            "with --date-order dmy",
        )
    ]
    assert snapshot() == before
    data = data.replace(b"11/02/2026", b"02/11/2026")
    result = time_entry_import(file=data, options=ReadOptions(date_order="dmy"))
    assert result.ok and result.created == 2
    assert sorted(TimeEntry.objects.values_list("date", flat=True)) == [
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 13),
    ]


def test_kimai_german_cp1252_semicolons_and_seconds():
    result, _ = imported_twice(fixture("kimai.csv"), options=ReadOptions(date_order="dmy"))
    assert (result.created, result.source) == (2, "kimai")
    assert "The file was read as Windows-1252." in result.notices
    assert entries() == [
        ("Jörg Müller", "Jörg Müller", "2026-11-03", "ACME-WEB", "Entwicklung", Decimal("1.5"),
         True, True, "Schnittstelle „Bestellung“", "", "kimai"),
        ("Jörg Müller", "Jörg Müller", "2026-11-04", "ACME-WEB", "Besprechung", Decimal("0.75"),
         True, True, "Abstimmung", "", "kimai"),
    ]  # fmt: skip


def test_tempo_worklogs_with_epic_link_twice_and_date_times():
    result, _ = imported_twice(fixture("tempo.csv"))
    assert (result.created, result.source) == (2, "tempo")
    assert entries() == [
        ("Ann Smith", "Ann Smith", "2026-11-03", "ACME", "ACME-12", Decimal("2"), True, True,
         "Payment step", "", "tempo"),
        ("Bo Chen", "Bo Chen", "2026-11-04", "ACME", "ACME-13", Decimal("1.5"), False, True,
         "Refactoring", "", "tempo"),
    ]  # fmt: skip


def test_tempo_worklog_id_is_the_entry_id():
    data = fixture("tempo.csv").decode()
    lines = data.splitlines()
    lines[0] += ",Worklog Id"
    lines[1] += ",5001"
    lines[2] += ",5002"
    result = time_entry_import(file=("\n".join(lines) + "\n").encode())
    assert result.ok, result.errors
    assert sorted(TimeEntry.objects.values_list("external_id", flat=True)) == ["5001", "5002"]


@pytest.mark.parametrize(
    ("encode", "label"),
    [
        (lambda t: t.encode("utf-16"), "UTF-16"),
        (lambda t: b"\xef\xbb\xbf" + t.encode(), None),
        (lambda t: t.encode("cp1252"), "Windows-1252"),
    ],
)
def test_the_same_export_in_the_encodings_excel_writes(encode, label):
    text = fixture("toggl.csv").decode().replace("Bo Chen", "Zoë Brontë")
    result = time_entry_import(file=encode(text))
    assert result.ok and result.created == 3, result.errors
    assert Employee.objects.filter(name="Zoë Brontë").exists()
    said = [n for n in result.notices if "read as" in n]
    assert said == ([f"The file was read as {label}."] if label else [])


def test_semicolon_file_with_decimal_commas_and_its_refusal_with_points():
    header = "Entry ID;Date;Employee ID;Project Code;Hours;Billable"
    data = f'{header}\n"1";"03.11.2026";"E1";"P1";"1,5";"Ja"\n'.encode()
    result = time_entry_import(file=data, options=ReadOptions(decimal="point", date_order="dmy"))
    assert result.errors == [
        RowError(
            2,
            "Hours",
            "must be a number with a decimal point, got '1,5'; if the file writes decimal commas, "
            "import with --decimal comma",
        )
    ]
    result = time_entry_import(file=data, options=ReadOptions(decimal="comma", date_order="dmy"))
    assert result.ok and result.source == "billable"
    entry = TimeEntry.objects.get()
    assert (entry.date, entry.hours, entry.billable) == (dt.date(2026, 11, 3), Decimal("1.5"), True)


def test_excel_mangled_entry_id_is_refused():
    data = b"Entry ID,Date,Employee ID,Project Code,Hours,Billable\n1.23457E+11,2026-11-03,E1,P1,1,yes\n"
    result = time_entry_import(file=data)
    assert result.errors == [
        RowError(2, "Entry ID", "Excel changed this ID (1.23457E+11); export IDs as text")
    ]
    assert not TimeEntry.objects.exists()


def test_errors_name_the_files_own_column():
    data = fixture("toggl.csv").replace(b"01:30:00,design", b"25:00:00,design", 1)
    result = time_entry_import(file=data)
    assert result.errors == [
        RowError(2, "Duration", "must be more than 0 and at most 24, got '25:00:00'")
    ]


def test_source_option_and_mapping_file_for_an_unknown_tracker(tmp_path):
    data = b"Ref,Day,Person,Job,Time,Chargeable\nA1,2026-11-03,ann,P1,1:15,oui\n"
    result = time_entry_import(file=data)
    assert result.errors[0] == RowError(
        1,
        "Entry ID",
        "required column is missing from the header (also missing: Date, Employee ID, Project "
        "Code, Hours, Billable)",
    )
    mapping = parse_mapping(
        {"columns": {"Entry ID": "Ref", "Date": "Day", "Employee ID": "Person",
                     "Project Code": "Job", "Hours": "Time", "Billable": "Chargeable"}},
        columns=SOURCES.schema.columns,
        sources=SOURCES.names,
    )  # fmt: skip
    result = time_entry_import(file=data, options=ReadOptions(mapping=mapping))
    assert result.ok, result.errors
    assert TimeEntry.objects.get().hours == Decimal("1.25")
    result = time_entry_import(file=fixture("toggl.csv"), options=ReadOptions(source="harvest"))
    assert result.errors[0].column == "Date" and "Harvest" in result.errors[0].message


def test_json_rows_with_a_source():
    rows = [{"User": "Ann", "Email": "ann@example.com", "Project": "P1", "Description": "x",
             "Billable": True, "Start date": "2026-11-03", "Start time": "09:00:00",
             "Duration": "01:00:00"}]  # fmt: skip
    result = time_entry_import_rows(rows=rows)
    assert result.ok and result.source == "toggl", result.errors
    assert TimeEntry.objects.get().external_id.startswith("toggl:")


def test_replace_period_deletes_missing_entries_of_that_source_only(billing_admin):
    from tests.factories import TimeEntryFactory

    time_entry_import(file=fixture("toggl.csv"))
    other = TimeEntryFactory(date=dt.date(2026, 11, 2), source="billable")
    # The tracker's re-export of the period lost one of the two identical design rows.
    lines = fixture("toggl.csv").splitlines()
    data = b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    result = time_entry_import(file=data, replace_period=True, user=billing_admin)
    assert result.ok and result.deleted == 1, result.errors
    assert TimeEntry.objects.filter(source="toggl").count() == 2
    assert TimeEntry.objects.filter(pk=other.pk).exists()
    assert ImportRecord.objects.order_by("pk").last().deleted == 1


def test_replace_period_keeps_and_flags_an_invoiced_entry():
    from timesheets.models import Flag

    time_entry_import(file=fixture("toggl.csv"))
    TimeEntry.objects.filter(notes="Design, round 2").update(locked=True)
    before = set(TimeEntry.objects.values_list("external_id", flat=True))
    lines = fixture("toggl.csv").splitlines()
    data = b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    result = time_entry_import(file=data, replace_period=True)
    assert result.ok and result.deleted == 0
    assert set(TimeEntry.objects.values_list("external_id", flat=True)) == before
    flag = Flag.objects.get(code="CHANGED_AFTER_INVOICING")
    assert flag.subject in before and flag.entry.notes == "Design, round 2"
    assert flag.status == "open" and "no longer has it" in flag.detail


def test_command_with_source_and_reading_options(tmp_path, capsys):
    path = tmp_path / "kimai.csv"
    path.write_bytes(fixture("kimai.csv"))
    call_command("import_time_entries", str(path), "--source", "kimai", "--date-order", "dmy")
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Imported time entries: 2 created, 0 updated, 0 unchanged",
        "Source: Kimai export (as chosen).",
        "The file was read as Windows-1252.",
        "Dates such as 03.11.2026 were read in day/month/year order (2026-11-03); if the file "
        "means month/day/year, import with --date-order mdy.",
        "Entries name Project Codes that no agreement has: ACME-WEB (2); reconciliation flags "
        "them NO_AGREEMENT until the agreement is imported.",
    ]
    call_command("import_time_entries", str(path), "--date-order", "dmy", "--json")
    assert json.loads(capsys.readouterr().out) == {
        "created": 0, "updated": 0, "unchanged": 2, "errors": [],
    }  # fmt: skip


def test_command_replace_period_removes_what_the_re_export_no_longer_has(tmp_path, capsys):
    full = tmp_path / "toggl.csv"
    full.write_bytes(fixture("toggl.csv"))
    call_command("import_time_entries", str(full))
    capsys.readouterr()
    ids = sorted(TimeEntry.objects.values_list("external_id", flat=True))
    # The re-export of 2026-11-02..03 lost one of the two identical design rows.
    lines = fixture("toggl.csv").splitlines()
    again = tmp_path / "toggl-again.csv"
    again.write_bytes(b"\n".join([lines[0], lines[1], lines[3]]) + b"\n")
    # Without the flag a re-export only adds and updates.
    call_command("import_time_entries", str(again), "--json")
    assert json.loads(capsys.readouterr().out)["unchanged"] == 2
    assert sorted(TimeEntry.objects.values_list("external_id", flat=True)) == ids
    call_command("import_time_entries", str(again), "--replace-period", "--dry-run")
    assert capsys.readouterr().out.splitlines()[0] == (
        "Dry run, nothing written: 0 created, 0 updated, 2 unchanged, 1 deleted"
    )
    assert TimeEntry.objects.count() == 3
    call_command("import_time_entries", str(again), "--replace-period")
    assert capsys.readouterr().out.splitlines()[0] == (
        "Imported time entries: 0 created, 0 updated, 2 unchanged, 1 deleted"
    )
    left = sorted(TimeEntry.objects.values_list("external_id", flat=True))
    assert len(left) == 2 and set(left) < set(ids)
    # The key of the second identical row (n = 2) is the one the file no longer has.
    assert TimeEntry.objects.filter(notes="Design, round 2").count() == 1
    record = ImportRecord.objects.order_by("pk").last()
    assert (record.deleted, record.unchanged, record.source) == (1, 2, "toggl")


def test_command_mapping_file_errors_are_usage_errors(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "x.csv"
    path.write_bytes(fixture("toggl.csv"))
    bad = tmp_path / "m.json"
    bad.write_text('{"columns": {"Nope": "x"}}')
    with pytest.raises(CommandError) as exc:
        call_command("import_time_entries", str(path), "--mapping", str(bad))
    assert str(exc.value).startswith(f"{bad}: columns: 'Nope' is not one of our columns")


# --- agreements ---------------------------------------------------------------------------------


def agreements_summary():
    return [
        (a.external_id, a.account.external_id, a.account.name, a.project_code, a.agreement_type,
         a.stage, a.start_date.isoformat(), a.amount, a.hourly_rate, a.currency)
        for a in Agreement.objects.select_related("account").order_by("external_id")
    ]  # fmt: skip


def load_mapping(name: str):
    from agreements.services import SOURCES as AGREEMENT_SOURCES

    return parse_mapping(
        fixture(name), columns=AGREEMENT_SOURCES.schema.columns, sources=AGREEMENT_SOURCES.names
    )


def test_salesforce_report_with_footers_and_a_saved_mapping():
    result = agreement_import(file=fixture("salesforce.csv"))
    assert result.errors == [
        RowError(
            1,
            "Agreement Type",
            "required column is missing from the header; the Salesforce report export has no "
            "such column: add it with a mapping file",
        )
    ]
    options = ReadOptions(mapping=load_mapping("salesforce-mapping.json"))
    result = agreement_import(file=fixture("salesforce.csv"), options=options)
    assert result.ok and (result.created, result.source) == (2, "salesforce"), result.errors
    assert agreements_summary() == [
        ("006Dn000001SupB", "001Dn00000Acme1", "Acme Ltd", "Acme support 2027", "time_and_materials",
         "draft", "2026-12-15", Decimal("35000.00"), Decimal("175.00"), "USD"),
        ("006Dn000001WebA", "001Dn00000Acme1", "Acme Ltd", "Acme website relaunch", "fixed_fee",
         "signed", "2026-11-01", Decimal("12500.00"), None, "USD"),
    ]  # fmt: skip
    before = snapshot()
    again = agreement_import(file=fixture("salesforce.csv"), options=options)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot() == before


def test_hubspot_deals_export_with_value_replacements_and_defaults():
    options = ReadOptions(mapping=load_mapping("hubspot-mapping.json"))
    result = agreement_import(file=fixture("hubspot.csv"), options=options)
    assert result.ok and (result.created, result.source) == (2, "hubspot"), result.errors
    assert agreements_summary() == [
        ("18734519032", "9912001", "Globex Corp", "Globex data platform", "time_and_materials",
         "signed", "2026-10-15", None, Decimal("160.00"), "USD"),
        ("18734519033", "9912001", "Globex Corp", "Globex audit", "fixed_fee", "draft",
         "2026-12-01", Decimal("8000.00"), None, "USD"),
    ]  # fmt: skip
    again = agreement_import(file=fixture("hubspot.csv"), options=options)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


def test_european_amount_with_thousands_dot_is_never_read_as_one_and_a_half():
    from tests.imports.data import agreement, agreements_csv

    data = agreements_csv(agreement(**{"Agreement Type": "Fixed Fee", "Amount": "1.500",
                                       "Hourly Rate": ""}))  # fmt: skip
    result = agreement_import(file=data)
    assert result.errors == [
        RowError(
            2,
            "Amount",
            "has more than 2 decimal places, got '1.500'; if it is a European amount with a "
            "thousands dot, import with --decimal comma",
        )
    ]
    result = agreement_import(file=data, options=ReadOptions(decimal="comma"))
    assert result.ok
    assert Agreement.objects.get().amount == Decimal("1500.00")


def test_uk_date_is_read_in_the_firms_order_and_the_summary_says_so(settings):
    from tests.imports.data import agreement, agreements_csv

    settings.BILLING_DATE_ORDER = "dmy"
    result = agreement_import(file=agreements_csv(agreement(**{"Start Date": "03/11/2026"})))
    assert result.ok
    assert Agreement.objects.get().start_date == dt.date(2026, 11, 3)
    assert result.notices[-1] == (
        "Dates such as 03/11/2026 were read in day/month/year order (2026-11-03); if the file "
        "means month/day/year, import with --date-order mdy."
    )


def test_agreement_json_rows_still_keyed_by_spec_columns():
    from tests.imports.data import agreement

    result = agreement_import_rows(rows=[agreement()])
    assert result.ok and result.created == 1 and result.source == "billable"
