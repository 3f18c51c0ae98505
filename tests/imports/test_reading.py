"""The shared reading layer (SPEC 1.4): encodings, delimiters, XLSX, headers, footers, values,
mapping files and derived keys. Pure: no database."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from dataclasses import replace

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.csvio import CsvFileError
from core.imports import RowError
from core.reading import (
    MappingError,
    ReadOptions,
    Schema,
    Source,
    SourceSet,
    TableReader,
    UnknownLayout,
    parse_mapping,
    sha256_of,
)
from core.reading.values import ValueOptions, normalize

SCHEMA = Schema(
    "things",
    ("ID", "Date", "Hours", "Amount", "Flag", "Name"),
    frozenset({"ID", "Date"}),
    {"ID": "id", "Date": "date", "Hours": "duration", "Amount": "money", "Flag": "bool"},
    helpers=("Start",),
)
BILLABLE = Source("billable", "Billable", "things", signature=frozenset({"id", "date"}))
VENDOR = Source(
    "vendor",
    "Vendor",
    "things",
    columns={
        "ID": (("Ref",),),
        "Date": (("Day",),),
        "Hours": (("Seconds",),),
        "Name": (("First", "Last"), ("User",)),
    },
    kinds={"Hours": "seconds"},
    signature=frozenset({"day", "seconds"}),
    defaults={"Flag": "yes"},
    values={"Flag": {"maybe": "no"}},
    footers=(re.compile(r"Grand Totals \(\d+ records?\)"), re.compile(r"Copyright ")),
    derive_key="ID",
    key_fields=("Name", "Date", "Start", "Hours"),
)
SOURCES = SourceSet(SCHEMA, BILLABLE, (VENDOR,))


def read(data, **options):
    reader = TableReader(data, sources=SOURCES, options=ReadOptions(**options))
    rows = [(r.line, r.values) for r in reader]
    return reader, rows


def refused(data, **options) -> RowError:
    with pytest.raises(CsvFileError) as exc:
        read(data, **options)
    return exc.value.error


GOOD = "ID,Date,Hours,Amount,Flag,Name\n7,2026-03-01,1.5,150.00,yes,Ann\n"
ROW = (2, ("7", "2026-03-01", "1.5", "150.00", "yes", "Ann"))


# --- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (GOOD.encode(), "UTF-8"),
        (b"\xef\xbb\xbf" + GOOD.encode(), "UTF-8"),
        (GOOD.encode("utf-16"), "UTF-16"),
        (GOOD.replace("\n", "\r\n").encode("utf-16-be").join([b"\xfe\xff", b""]), "UTF-16"),
    ],
)
def test_unicode_encodings_by_bom(data, encoding):
    reader, rows = read(data)
    assert rows == [ROW]
    assert reader.encoding == encoding
    said = [n for n in reader.notices if "read as" in n]
    assert said == ([] if encoding == "UTF-8" else ["The file was read as UTF-16."])


def test_bytes_that_are_not_utf8_are_read_as_windows_1252_and_said_so():
    data = GOOD.replace("Ann", "Zoë “A”").encode("cp1252")
    reader, rows = read(data)
    assert rows[0][1][-1] == "Zoë “A”"
    assert "The file was read as Windows-1252." in reader.notices


def test_encoding_option_forces_a_codec():
    data = GOOD.replace("Ann", "Zoë").encode("latin-1")
    reader, rows = read(data, encoding="latin-1")
    assert rows[0][1][-1] == "Zoë"
    assert reader.encoding == "ISO-8859-1"
    assert refused(GOOD.encode(), encoding="klingon") == RowError(
        0, "File", "unknown encoding 'klingon'"
    )


def test_utf16_without_bom_says_so():
    error = refused(GOOD.encode("utf-16-le"))
    assert error.message == (
        "looks like UTF-16 without a byte-order mark; import with --encoding utf-16-le (or utf-16-be)"
    )


def test_bytes_undefined_in_windows_1252_name_the_line():
    data = GOOD.encode() + b"8,2026-03-02,1,1,yes,\x81\xe9\n"
    assert refused(data) == RowError(
        3,
        "File",
        "is not valid Windows-1252 (byte 0x81 at position 22); save the file as CSV UTF-8 or "
        "name its encoding",
    )


# --- delimiters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_delimiter_sniffed_also_with_quoted_header(sep):
    text = GOOD.replace(",", sep)
    quoted = "\n".join(sep.join(f'"{c}"' for c in line.split(sep)) for line in text.splitlines())
    for data in (text, quoted + "\n"):
        reader, rows = read(data.encode())
        assert rows == [ROW]
        assert reader.table.delimiter == sep


def test_excel_sep_line_and_forced_delimiter():
    reader, rows = read(("sep=;\n" + GOOD.replace(",", ";")).encode())
    assert rows == [(3, ROW[1])]
    _, rows = read(GOOD.replace(",", "|").encode(), delimiter="|")
    assert rows == [ROW]


def test_extra_fields_are_an_error_unless_the_source_writes_a_trailing_delimiter():
    data = GOOD.replace("Ann\n", "Ann,\n") + "8,2026-03-02,1,1,yes,Bo,extra\n"
    reader, rows = read(data.encode())
    assert rows == []
    assert reader.errors == [
        RowError(2, "File", "has 7 fields but the header has 6 (a comma in an unquoted value?)"),
        RowError(3, "File", "has 7 fields but the header has 6 (a comma in an unquoted value?)"),
    ]
    chase = SourceSet(SCHEMA, replace(BILLABLE, trailing_delimiter=True))
    reader = TableReader(data.encode(), sources=chase)
    assert [(r.line, r.values) for r in reader] == [ROW]
    assert [e.line for e in reader.errors] == [3]


# --- XLSX ---------------------------------------------------------------------------------------


def xlsx(*sheets) -> bytes:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_first_sheet_or_the_named_one():
    data = xlsx(
        ("Summary", [["ID", "Date"], ["S", dt.date(2026, 1, 1)]]),
        (
            "Detail",
            [
                ["ID", "Date", "Hours", "Amount", "Flag", "Name"],
                [7, dt.datetime(2026, 3, 1, 9, 30), 1.5, 150, True],
                [],
                [8, "03/02/2026", dt.timedelta(hours=2), 99.5, False, "Bo"],
            ],
        ),
    )
    reader, rows = read(data)
    assert rows == [(2, ("S", "2026-01-01", "", "", "", ""))]
    assert reader.encoding == "XLSX"
    _, rows = read(data, sheet="Detail")
    assert rows == [
        (2, ("7", "2026-03-01", "1.5", "150", "yes", "")),
        (4, ("8", "2026-03-02", "2:00:00", "99.5", "no", "Bo")),
    ]
    assert refused(data, sheet="Nope").message == (
        "the workbook has no sheet named 'Nope' (it has Summary, Detail)"
    )


def test_old_xls_and_broken_zip_are_refused_plainly():
    assert refused(b"\xd0\xcf\x11\xe0" + b"\x00" * 100).message == (
        "is an old Excel .xls workbook; save it as .xlsx or CSV"
    )
    assert refused(b"PK\x03\x04garbage").message == "is a zip file but not a readable XLSX workbook"


# --- headers, sources, footers ------------------------------------------------------------------


def test_vendor_detected_columns_joined_defaults_values_footer_and_derived_key():
    data = (
        "Ref,Day,Seconds,First,Last,Start,Flag\n"
        ",2026-11-3 09:00,5400,Ann,Lee,09:00,yes\n"
        ",2026-11-3 09:00,5400,Ann,Lee,09:00,maybe\n"
        "\n"
        "Grand Totals (2 records)\n"
        "Copyright (c) 2000-2026 Vendor, Inc. All rights reserved.\n"
    )
    data = data.replace("Ref,", "Note,").replace("\n,", "\nx,")
    reader, rows = read(data.encode())
    assert reader.source.name == "vendor" and reader.detected
    assert reader.notices[0] == "Source: Vendor (detected from the header)."
    keys = [values[0] for _, values in rows]
    assert [values[1:] for _, values in rows] == [
        ("2026-11-03", "1:30:00", "", "yes", "Ann Lee"),
        ("2026-11-03", "1:30:00", "", "no", "Ann Lee"),
    ]
    # Identical rows get different keys (n counts them) and re-reading gives the same keys.
    assert len(set(keys)) == 2 and all(re.fullmatch(r"vendor:[0-9a-f]{16}", k) for k in keys)
    assert [v[0] for _, v in read(data.encode())[1]] == keys
    assert reader.labels["Name"] == "First + Last"


def test_unknown_header_raises_unknown_layout_with_the_header():
    with pytest.raises(UnknownLayout) as exc:
        read(b"Foo,Bar\n1,2\n")
    assert exc.value.header == ["Foo", "Bar"]
    assert exc.value.error == RowError(
        1, "ID", "required column is missing from the header (also missing: Date)"
    )


def test_repeated_unused_column_ignored_repeated_used_column_refused():
    data = GOOD.replace("Name\n", "Name,Epic Link,Epic Link\n").replace("Ann\n", "Ann,a,b\n")
    _, rows = read(data.encode())
    assert rows == [ROW]
    data = GOOD.replace("Name\n", "Name,date\n").replace("Ann\n", "Ann,x\n")
    assert refused(data.encode()) == RowError(1, "Date", "the column appears twice in the header")


def test_missing_required_column_from_a_vendor_export_says_how_to_fix():
    error = refused(b"Seconds,User\n60,ann\n", source="vendor")
    assert error == RowError(
        1,
        "Date",
        "required column is missing from the header; the Vendor export has no such column: "
        "add it with a mapping file",
    )
    reader, rows = read(b"Day,Seconds,User\n2026-01-01,60,ann\n", source="vendor")
    assert rows[0][1][1:] == ("2026-01-01", "0:01:00", "", "yes", "ann")


# --- values -------------------------------------------------------------------------------------

MDY, DMY, YMD = (ValueOptions(date_order=o) for o in ("mdy", "dmy", "ymd"))


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("03/11/2026", MDY, "2026-03-11"),
        ("03/11/2026", DMY, "2026-11-03"),
        ("03.11.26", DMY, "2026-11-03"),
        ("2026/11/03", YMD, "2026-11-03"),
        ("2026-11-03", DMY, "2026-11-03"),
        ("2026-11-3 09:00", MDY, "2026-11-03"),
        ("2026-11-03T09:00:00Z", MDY, "2026-11-03"),
        ("11/3/2026 10:23:52 AM", MDY, "2026-11-03"),
    ],
)
def test_dates(text, options, expected):
    assert normalize("date", text, options) == expected


def test_a_date_impossible_in_the_order_names_the_order_that_fits():
    reader, rows = read(b"ID,Date\n1,13/11/2026\n")
    assert rows == []
    assert reader.errors == [
        RowError(
            2,
            "Date",
            "'13/11/2026' is not a date in month/day/year order; it fits day/month/year: "
            "import with --date-order dmy",
        )
    ]
    reader, rows = read(b"ID,Date\n1,13/11/2026\n2,03/11/2026\n", date_order="dmy")
    assert [r[1][1] for r in rows] == ["2026-11-13", "2026-11-03"]
    assert reader.notices[-1] == (
        "Dates such as 03/11/2026 were read in day/month/year order (2026-11-03); if the file "
        "means month/day/year, import with --date-order mdy."
    )


@pytest.mark.parametrize(
    ("kind", "text", "decimal", "expected"),
    [
        ("money", "$1,500.00", "point", "1500.00"),
        ("money", "1.500,00 €", "comma", "1500.00"),
        ("money", "EUR 3.750,00", "comma", "3750.00"),
        ("money", "USD 12", "point", "12"),
        ("money", "(12.50)", "point", "-12.50"),
        ("number", "1,5", "comma", "1.5"),
        ("number", "1 234,5", "comma", "1234.5"),
        ("duration", "1,5", "comma", "1.5"),
        ("duration", "01:30:00", "point", "01:30:00"),
        ("seconds", "5400", "point", "1:30:00"),
        ("bool", "Ja", "point", "yes"),
        ("bool", "Non", "point", "no"),
        ("time", "10:23:52 PM", "point", "22:23:52"),
        ("rate_card", "Engineer=150,50; PM=175", "comma", "Engineer=150.50; PM=175"),
        (
            "milestones",
            "Kickoff:50:01.02.2026; Go live:50",
            "comma",
            "Kickoff:50:2026-02-01; Go live:50",
        ),
    ],
)
def test_values(kind, text, decimal, expected):
    options = ValueOptions(date_order="dmy" if kind == "milestones" else "mdy", decimal=decimal)
    assert normalize(kind, text, options) == expected


@pytest.mark.parametrize(
    ("kind", "text", "decimal", "message"),
    [
        (
            "money",
            "1.500",
            "point",
            "has more than 2 decimal places, got '1.500'; if it is a European amount with a "
            "thousands dot, import with --decimal comma",
        ),
        (
            "number",
            "1,5",
            "point",
            "must be a number with a decimal point, got '1,5'; if the file writes decimal "
            "commas, import with --decimal comma",
        ),
        ("id", "1.23457E+11", "point", "Excel changed this ID (1.23457E+11); export IDs as text"),
        (
            "bool",
            "perhaps",
            "point",
            "must be yes/no, y/n, true/false or 1/0 (also Ja/Nein, Oui/Non), got 'perhaps'",
        ),
    ],
)
def test_value_errors(kind, text, decimal, message):
    from core.csvio import FieldError

    with pytest.raises(FieldError) as exc:
        normalize(kind, text, ValueOptions(decimal=decimal))
    assert str(exc.value) == message


# --- mapping files ------------------------------------------------------------------------------


def test_mapping_file_columns_list_join_values_defaults_and_options():
    mapping = parse_mapping(
        json.dumps(
            {
                "columns": {"ID": "Ref No", "Date": "Posted", "name": ["Given", "Family"]},
                "values": {"Flag": {"Oui!": "yes"}},
                "defaults": {"Amount": 5},
                "date_order": "dmy",
                "decimal": "comma",
                "delimiter": ";",
            }
        ),
        columns=SCHEMA.columns,
        sources=SOURCES.names,
    )
    data = "Ref No;Posted;Given;Family;Flag\nR1;03/11/2026;Ann;Lee;oui!\n".encode("cp1252")
    reader, rows = read(data, mapping=mapping)
    assert rows == [(2, ("R1", "2026-11-03", "", "5", "yes", "Ann Lee"))]
    assert reader.labels == {"ID": "Ref No", "Date": "Posted", "Name": "Given + Family"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("[]", "must be a JSON object"),
        ("{", "is not valid JSON"),
        ('{"colums": {}}', "unknown key 'colums'"),
        ('{"columns": {"Nope": "x"}}', "columns: 'Nope' is not one of our columns"),
        ('{"columns": {"ID": []}}', "columns: 'ID' lists no file columns"),
        ('{"source": "sap"}', "source 'sap' is not one of billable, vendor"),
        ('{"date_order": "dym"}', "date_order must be one of mdy, dmy, ymd"),
        ('{"defaults": {"ID": true}}', "defaults: 'ID' must be a text or a number"),
    ],
)
def test_bad_mapping_files(data, message):
    with pytest.raises(MappingError) as exc:
        parse_mapping(data, columns=SCHEMA.columns, sources=SOURCES.names)
    assert str(exc.value).startswith(message)


header_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters='"\r\n,\x00'), min_size=1, max_size=12
).filter(lambda s: s.strip() == s and s.strip())


@settings(max_examples=60, deadline=None)
@given(names=st.lists(header_names, min_size=3, max_size=3, unique_by=lambda s: s.lower()))
def test_any_mapping_of_renamed_columns_reads_like_the_billable_file(names):
    """Renaming our columns to any header names and mapping them back reads the same rows."""
    if {n.lower() for n in names} & {"id", "date", "amount", "hours", "flag", "name", "start"}:
        return
    mapping = parse_mapping(
        {"columns": {"ID": names[0], "Date": names[1], "Amount": names[2]}},
        columns=SCHEMA.columns,
        sources=SOURCES.names,
    )
    header = ",".join(f'"{n}"' for n in names)
    data = f"{header}\n7,2026-03-01,150.00\n".encode()
    _, rows = read(data, mapping=mapping)
    assert rows == [(2, ("7", "2026-03-01", "", "150.00", "", ""))]


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                    max_leaves=10))  # fmt: skip
def test_mapping_parser_only_ever_raises_mapping_error(data):
    try:
        parse_mapping(data, columns=SCHEMA.columns, sources=SOURCES.names)
    except MappingError:
        pass


def test_sha256_of_a_file():
    digest, size = sha256_of(b"abc")
    assert (digest[:16], size) == ("ba7816bf8f01cfea", 3)
