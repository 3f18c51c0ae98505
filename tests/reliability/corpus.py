"""A corpus of hostile CSV files for each import (SPEC section 1), generated, deterministic.

`corpus(kind, tmp_dir)` returns `Case`s for kind "agreements", "time_entries" or "payments". Each
case is a file every import must refuse WHOLE: no row written, exit 1, every problem as
`line N: Column: message`, never a traceback. A case says where the problem must be reported:
`line` (the physical line, header = 1; 0 = the file as a whole, e.g. empty or too large) and
`column` (a SPEC column name, or "File" for problems with the file itself); `None` accepts any
(binary content may be reported on its line or, when sniffed up front, as line 0).

Every case starts from a small VALID file (`valid_rows(kind)`, three rows; the test checks it
imports cleanly in a dry run) and breaks exactly one rule, so the reported line and column are
known. Payments refer to account `ACC-REL-1`, which the test creates.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agreements.importing import rows as agreement_rows
from receivables import importing as payment_import
from timesheets.importing import rows as entry_rows

FILE = "File"

# The header of a valid file: each import's own column list. REQUIRED is what SPEC requires, the
# test's expectation of which missing column rejects a file.
COLUMNS = {
    "agreements": list(agreement_rows.COLUMNS),
    "time_entries": list(entry_rows.COLUMNS),
    "payments": list(payment_import.COLUMNS),
}
REQUIRED = {
    "agreements": [
        "Agreement ID",
        "Account ID",
        "Account Name",
        "Project Code",
        "Agreement Type",
        "Stage",
        "Start Date",
    ],
    "time_entries": ["Entry ID", "Date", "Employee ID", "Project Code", "Hours", "Billable"],
    "payments": ["Payment ID", "Date", "Account ID", "Amount"],
}
# A free-text column per import (a 2 MB value there breaks the 1 MB cell limit) and a text
# column with a length limit (a 300 KB value there is a row error in that column).
TEXT_COLUMN = {"agreements": "Account Name", "time_entries": "Notes", "payments": "Reference"}
LIMITED_COLUMN = {"agreements": "Account Name", "time_entries": "Task", "payments": "Reference"}
ANY = -1  # a case whose reported line may be any line
PAYMENT_ACCOUNT = "ACC-REL-1"


def valid_rows(kind: str) -> list[dict[str, str]]:
    if kind == "agreements":
        base = dict.fromkeys(COLUMNS["agreements"], "")
        return [
            {
                **base,
                "Agreement ID": "REL-AGR-1",
                "Account ID": "REL-ACC-1",
                "Account Name": "Acme Ltd",
                "Billing Email": "ap@acme.example",
                "Project Code": "REL-P1",
                "Agreement Type": "Time and Materials",
                "Stage": "Signed",
                "Start Date": "2026-01-01",
                "Hourly Rate": "150",
                "Role Rates": "Engineer=150; Project Manager=175",
                "Billing Increment": "15",
                "Currency": "USD",
                "Payment Terms": "30",
                "PO Number": "PO-1",
                "Tax Rate": "0",
            },
            {
                **base,
                "Agreement ID": "REL-AGR-2",
                "Account ID": "REL-ACC-1",
                "Account Name": "Acme Ltd",
                "Project Code": "REL-P2",
                "Agreement Type": "Fixed Fee",
                "Stage": "Signed",
                "Start Date": "01/01/2026",
                "End Date": "12/31/2026",
                "Amount": "10000.00",
                "Milestones": "Kickoff:50:2026-01-31; Delivery:50",
            },
            {
                **base,
                "Agreement ID": "REL-AGR-3",
                "Account ID": "REL-ACC-2",
                "Account Name": "Globex",
                "Project Code": "REL-P3",
                "Agreement Type": "Prepaid Hours",
                "Stage": "Draft",
                "Start Date": "2026-02-01",
                "Hours Sold": "40",
                "Amount": "6000",
                "Hourly Rate": "140",
            },
        ]
    if kind == "time_entries":
        return [
            {
                "Entry ID": "900001",
                "Date": "2026-01-05",
                "Employee ID": "REL-E1",
                "Employee Name": "Ann Lee",
                "Role": "Engineer",
                "Project Code": "REL-P1",
                "Task": "Build",
                "Hours": "1.5",
                "Billable": "yes",
                "Approved": "yes",
                "Notes": "ok",
            },
            {
                "Entry ID": "900002",
                "Date": "01/06/2026",
                "Employee ID": "REL-E1",
                "Employee Name": "Ann Lee",
                "Role": "Engineer",
                "Project Code": "REL-P1",
                "Task": "Build",
                "Hours": "2:30",
                "Billable": "Y",
                "Approved": "",
                "Notes": "",
            },
            {
                "Entry ID": "900003",
                "Date": "2026-01-07",
                "Employee ID": "REL-E2",
                "Employee Name": "Bo Chan",
                "Role": "",
                "Project Code": "REL-P9",
                "Task": "",
                "Hours": "0:45:00",
                "Billable": "false",
                "Approved": "1",
                "Notes": "n",
            },
        ]
    if kind == "payments":
        return [
            {
                "Payment ID": "REL-PAY-1",
                "Date": "2026-02-01",
                "Account ID": PAYMENT_ACCOUNT,
                "Amount": "100.00",
                "Currency": "USD",
                "Reference": "thanks",
                "Method": "wire",
            },
            {
                "Payment ID": "REL-PAY-2",
                "Date": "02/02/2026",
                "Account ID": PAYMENT_ACCOUNT,
                "Amount": "50",
                "Currency": "",
                "Reference": "",
                "Method": "",
            },
            {
                "Payment ID": "REL-PAY-3",
                "Date": "2026-02-03",
                "Account ID": PAYMENT_ACCOUNT,
                "Amount": "0.01",
                "Currency": "USD",
                "Reference": "INV-2026-99999",
                "Method": "ach",
            },
        ]
    raise ValueError(kind)


def to_csv(
    rows: list[dict[str, str]], columns: list[str] | None = None, *, newline: str = "\r\n"
) -> bytes:
    columns = columns if columns is not None else list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")


@dataclass
class Case:
    name: str
    rule: str  # the SPEC rule or hazard it exercises
    line: int | None
    column: str | None
    data: bytes | None = None
    make_path: Callable[[], Path] | None = None  # huge files are written lazily to disk

    def path(self, tmp_dir: Path) -> Path:
        if self.make_path is not None:
            return self.make_path()
        target = tmp_dir / f"{self.name.replace(' ', '_').replace('/', '_')[:80]}.csv"
        target.write_bytes(self.data or b"")
        return target


def _mutate(kind: str, line: int, **changes: str) -> bytes:
    rows = [dict(r) for r in valid_rows(kind)]
    rows[line - 2].update(changes)
    return to_csv(rows, COLUMNS[kind])


def _file_cases(kind: str, tmp_dir: Path) -> list[Case]:
    cols = COLUMNS[kind]
    rows = valid_rows(kind)
    good = to_csv(rows, cols)
    text_col = TEXT_COLUMN[kind]
    header = good.split(b"\r\n", 1)[0]
    lines = good.split(b"\r\n")
    rnd = random.Random(f"corpus-{kind}")
    cases = [
        Case("empty file", "a header row", 0, FILE, b""),
        Case("only blank lines", "a header row", 0, FILE, b"\r\n\r\n   \r\n"),
        Case("only a BOM", "a header row", 0, FILE, b"\xef\xbb\xbf"),
        Case("header only", "a header row and rows", 0, FILE, header + b"\r\n"),
        Case(
            "NUL bytes",
            "binary",
            None,
            FILE,
            good.replace(b"Ann" if kind == "time_entries" else b"2026-", b"\x00\x01", 1),
        ),
        Case(
            "PNG image",
            "binary",
            None,
            FILE,
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rnd.randrange(256) for _ in range(2000)),
        ),
        Case(
            "XLSX workbook",
            "binary",
            None,
            FILE,
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"
            + bytes(rnd.randrange(256) for _ in range(4000)),
        ),
        Case(
            "random bytes", "binary", None, FILE, bytes(rnd.randrange(256) for _ in range(10_000))
        ),
        Case(
            "PDF file",
            "binary",
            None,
            None,
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nstream\n\x00\x00\x00\nendstream\n",
        ),
        # SPEC 1.4 reads cp1252, UTF-16 with a BOM and any of , ; tab | : what stays hostile is
        # a byte that is neither UTF-8 nor Windows-1252, UTF-16 with no BOM, and a header whose
        # delimiter the rows do not use.
        Case(
            "latin-1 encoding",
            "Windows-1252",
            3,
            FILE,
            _mutate(kind, 3, **{text_col: "caf\u00e9"}).replace(
                "café".encode(), "caf\x81".encode("latin-1")
            ),
        ),
        Case("UTF-16 without BOM", "UTF-16", 0, FILE, good.decode().encode("utf-16-le")),
        Case(
            "semicolon separated",
            "one delimiter",
            None,
            FILE,
            good.replace(lines[0], lines[0].replace(b",", b";"), 1),
        ),
        Case(
            "unclosed quote",
            "RFC 4180 quoting",
            3,
            FILE,
            b"\r\n".join([lines[0], lines[1], b'"' + lines[2], lines[3], b""]),
        ),
        Case("bare CR line ends", "RFC 4180 line ends", None, FILE, good.replace(b"\r\n", b"\r")),
        Case(
            "extra field",
            "fields match the header",
            3,
            FILE,
            b"\r\n".join([lines[0], lines[1], lines[2] + b",extra", lines[3], b""]),
        ),
        Case(
            "missing field",
            "fields match the header",
            4,
            FILE,
            b"\r\n".join([lines[0], lines[1], lines[2], lines[3].rsplit(b",", 1)[0], b""]),
        ),
        Case("duplicate header column", "header", 1, None, to_csv(rows, [*cols, cols[0]])),
        Case(
            "huge field 2 MB",
            "huge field",
            3,
            None,
            _mutate(kind, 3, **{text_col: "A" * (2 * 1024 * 1024)}),
        ),
        Case(
            "huge field 300 KB",
            "field length",
            3,
            LIMITED_COLUMN[kind],
            _mutate(kind, 3, **{LIMITED_COLUMN[kind]: "B" * 300_000}),
        ),
        Case("100 MB file", "size limit", 0, FILE, make_path=lambda: _big_file(kind, tmp_dir, 100)),
    ]
    for column in REQUIRED[kind]:
        cases.append(
            Case(
                f"missing required column {column}",
                "a missing required column rejects the file",
                1,
                column,
                to_csv(rows, [c for c in cols if c != column]),
            )
        )
    return cases


def _big_file(kind: str, tmp_dir: Path, megabytes: int) -> Path:
    """A valid-looking file of `megabytes` MB (the first valid row repeated with new IDs), written
    once per directory. Its only fault is its size."""
    path = tmp_dir / f"{kind}-{megabytes}mb.csv"
    if path.exists():
        return path
    target = megabytes * 1024 * 1024
    base = dict(valid_rows(kind)[0])
    id_col = COLUMNS[kind][0]
    base[id_col] = "\x00ID\x00"
    template = to_csv([base], COLUMNS[kind]).split(b"\r\n", 1)[1].decode()
    prefix = "" if kind == "time_entries" else f"{valid_rows(kind)[0][id_col]}-"
    with path.open("wb") as fh:
        fh.write(to_csv([valid_rows(kind)[0]], COLUMNS[kind]))
        n = 0
        while fh.tell() < target:
            chunk = "".join(
                template.replace("\x00ID\x00", f"{prefix}{10_000_000 + i}")
                for i in range(n, n + 20_000)
            )
            n += 20_000
            fh.write(chunk.encode())
    return path


FORMULAS = [
    "=1+1",
    "=SUM(A1:A9)",
    "@SUM(1+1)",
    '=HYPERLINK("http://evil.example","x")',
    "=cmd|' /C calc'!A0",
    "\t=1+1",
    "=TODAY()",
]


def _row_cases(kind: str) -> list[Case]:
    c: list[Case] = []

    def bad(
        name: str,
        rule: str,
        column: str | None,
        line: int = 3,
        report_line: int | None = None,
        **changes: str,
    ):
        where = line if report_line is None else (None if report_line == ANY else report_line)
        c.append(Case(name, rule, where, column, _mutate(kind, line, **changes)))

    # Formula cells in typed columns are not numbers, dates or booleans.
    typed = {
        "agreements": ["Start Date", "Amount"],
        "time_entries": ["Hours", "Date", "Billable"],
        "payments": ["Amount", "Date"],
    }[kind]
    for i, formula in enumerate(FORMULAS):
        column = typed[i % len(typed)]
        bad(f"formula {formula!r} in {column}", "formula cells", column, **{column: formula})

    if kind == "agreements":
        for column in REQUIRED[kind]:
            bad(f"empty {column}", "required value", column, **{column: ""})
        bad("unknown type", "Agreement Type", "Agreement Type", **{"Agreement Type": "Retainer"})
        bad("unknown stage", "Stage", "Stage", **{"Stage": "Negotiation"})
        bad("bad date", "dates", "Start Date", **{"Start Date": "2026-02-30"})
        bad("date with slashes ISO", "dates", "Start Date", **{"Start Date": "2026/01/15"})
        bad("US date month 13", "dates", "End Date", **{"End Date": "13/01/2026"})
        bad("end before start", "End Date", "End Date", **{"End Date": "2025-12-31"})
        bad("increment 7", "Billing Increment", "Billing Increment", **{"Billing Increment": "7"})
        bad(
            "increment text",
            "Billing Increment",
            "Billing Increment",
            **{"Billing Increment": "quarter"},
        )
        bad("lowercase currency", "Currency", "Currency", **{"Currency": "usd"})
        bad("unknown currency", "Currency", "Currency", **{"Currency": "XYZ"})
        bad("terms text", "Payment Terms", "Payment Terms", **{"Payment Terms": "net 30"})
        bad("negative tax", "Tax Rate", "Tax Rate", **{"Tax Rate": "-5"})
        # SPEC 1.4 reads "10,000.00" and "$10000"; a misplaced separator or a word is refused.
        bad("thousands separator", "Amount", "Amount", **{"Amount": "10,00.00"})
        bad("currency sign", "Amount", "Amount", **{"Amount": "10000 dollars"})
        bad("exponent", "Amount", "Amount", **{"Amount": "1e4"})
        bad("fixed fee without amount", "Amount required", "Amount", **{"Amount": ""})
        bad("milestones sum 90", "Milestones", "Milestones", **{"Milestones": "A:50; B:40"})
        bad("milestones garbage", "Milestones", "Milestones", **{"Milestones": "Kickoff=50"})
        bad("milestones on T&M", "Milestones", "Milestones", line=2, **{"Milestones": "A:100"})
        bad(
            "T&M without rate",
            "T&M needs a rate",
            None,
            line=2,
            **{"Hourly Rate": "", "Role Rates": ""},
        )
        bad("prepaid without rate", "Prepaid needs a rate", None, line=4, **{"Hourly Rate": ""})
        bad("prepaid without amount", "Amount required", "Amount", line=4, **{"Amount": ""})
        bad(
            "role rates garbage",
            "Role Rates",
            "Role Rates",
            line=2,
            **{"Role Rates": "Engineer:150"},
        )
        bad(
            "role rate negative",
            "Role Rates",
            "Role Rates",
            line=2,
            **{"Role Rates": "Engineer=-1"},
        )
        bad(
            "bad email",
            "Billing Email",
            "Billing Email",
            line=2,
            **{"Billing Email": "not-an-email"},
        )
        bad("hours sold text", "Hours Sold", "Hours Sold", line=4, **{"Hours Sold": "forty"})
        bad("repeated Agreement ID", "repeated Agreement ID", None, **{"Agreement ID": "REL-AGR-1"})
        bad(
            "overlapping signed",
            "overlap",
            None,
            line=3,
            report_line=ANY,
            **{
                "Project Code": "REL-P1",
                "Agreement Type": "Time and Materials",
                "Milestones": "",
                "Amount": "",
                "Hourly Rate": "100",
                "End Date": "",
            },
        )
        bad("missing parent", "parent", "Parent Agreement ID", **{"Parent Agreement ID": "NOPE-1"})
        bad(
            "parent other account",
            "parent",
            "Parent Agreement ID",
            line=4,
            **{"Parent Agreement ID": "REL-AGR-1"},
        )
        bad(
            "parent other currency",
            "parent",
            "Parent Agreement ID",
            **{"Parent Agreement ID": "REL-AGR-1", "Currency": "EUR"},
        )
        bad(
            "same account different name",
            "accounts agree",
            None,
            line=3,
            report_line=ANY,
            **{"Account Name": "Acme Corporation"},
        )
    elif kind == "time_entries":
        for column in REQUIRED[kind]:
            bad(f"empty {column}", "required value", column, **{column: ""})
        for hours in [
            "0",
            "-1",
            "24.01",
            "25",
            "abc",
            "1,5",
            "1:75",
            "25:00",
            "0:00",
            "1.5h",
            "NaN",
            "Infinity",
        ]:
            bad(f"hours {hours!r}", "Hours > 0 and <= 24", "Hours", **{"Hours": hours})
        for value in ["maybe", "2", "ok", "t"]:  # (Oui/Non, Ja/Nein are booleans: SPEC 1.4)
            bad(f"billable {value!r}", "booleans", "Billable", **{"Billable": value})
        bad("approved invalid", "booleans", "Approved", **{"Approved": "pending"})
        for date in [
            "2026-02-30",
            "2026-13-01",
            "15/01/2026",
            "2026/01/15",
            "Jan 5 2026",
            "0001-01-01",
        ]:
            bad(f"date {date!r}", "dates", "Date", **{"Date": date})
        bad("repeated Entry ID", "Entry ID unique", "Entry ID", line=4, **{"Entry ID": "900001"})
    elif kind == "payments":
        for column in REQUIRED[kind]:
            bad(f"empty {column}", "required value", column, **{column: ""})
        for amount in [
            "0",
            "-5",
            "0.00",
            # "1,000.00" and "$5" are amounts since payments read through SPEC 1.4's reader.
            "12.345",
            "abc",
            "1e3",
            "99999999999999.99",
        ]:
            bad(f"amount {amount!r}", "Amount > 0", "Amount", **{"Amount": amount})
        bad("lowercase currency", "Currency", "Currency", **{"Currency": "usd"})
        bad("unknown currency", "Currency", "Currency", **{"Currency": "ABC"})
        bad("unknown account", "Account must exist", "Account ID", **{"Account ID": "NO-SUCH-ACC"})
        bad("bad date", "dates", "Date", **{"Date": "2026-02-29"})
        bad(
            "repeated Payment ID",
            "Payment ID unique",
            "Payment ID",
            line=4,
            **{"Payment ID": "REL-PAY-1"},
        )
    return c


def corpus(kind: str, tmp_dir: Path) -> list[Case]:
    return _file_cases(kind, tmp_dir) + _row_cases(kind)
