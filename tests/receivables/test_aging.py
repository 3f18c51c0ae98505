"""AR aging as of a date (SPEC 4), its exports read back, and the ar_aging command."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook
from pypdf import PdfReader

from receivables.aging import HEADER, aging_report, neutralize
from receivables.exports import aging_pdf, statement_pdf
from receivables.services import allocation_reverse, invoice_dispute, payment_record
from tests.factories import AccountFactory, CreditNoteFactory, PaymentFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
AS_OF = dt.date(2026, 6, 30)


def days_ago(n):
    return AS_OF - dt.timedelta(days=n)


def pay(account, amount, reference="", date=dt.date(2026, 6, 1), currency="USD", user=None):
    return payment_record(
        account=account,
        date=date,
        amount=D(amount),
        currency=currency,
        reference=reference,
        method="wire",
        user=user,
    )


def csv_rows(report):
    return list(csv.reader(io.StringIO(report.to_csv())))


@pytest.mark.parametrize(
    "days_past_due,bucket",
    [
        (-10, "Current"),
        (0, "Current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "91+"),
        (400, "91+"),
    ],
)
def test_each_bucket_boundary(days_past_due, bucket):
    acc = AccountFactory(external_id="A-1", name="Acme")
    final_invoice(
        acc, "123.45", due=days_ago(days_past_due), invoice_date=days_ago(days_past_due + 30)
    )
    rows = csv_rows(aging_report(as_of=AS_OF))
    expected = {name: "0.00" for name in HEADER[3:8]}
    expected[bucket] = "123.45"
    assert rows[0] == HEADER
    assert rows[1] == ["A-1", "Acme", "USD", *expected.values(), "0.00", "123.45"]
    assert rows[2] == ["TOTAL", "", "USD", *expected.values(), "0.00", "123.45"]
    assert len(rows) == 3


def test_all_boundaries_in_one_account_sum_per_bucket():
    acc = AccountFactory(external_id="A-1", name="Acme")
    for days, amount in [
        (0, "1"),
        (1, "2"),
        (30, "4"),
        (31, "8"),
        (60, "16"),
        (61, "32"),
        (90, "64"),
        (91, "128"),
    ]:
        final_invoice(acc, amount, due=days_ago(days), invoice_date=days_ago(days + 30))
    row = aging_report(as_of=AS_OF).rows[0]
    assert row.buckets == [D("1.00"), D("6.00"), D("24.00"), D("96.00"), D("128.00")]
    assert row.total == D("255.00")


def test_payments_and_credit_notes_after_the_date_are_excluded():
    acc = AccountFactory(external_id="A-1", name="Acme")
    inv = final_invoice(acc, "1000.00", due=days_ago(10), invoice_date=days_ago(40))
    pay(acc, "100.00", inv.number, date=days_ago(5))  # counts
    pay(acc, "200.00", inv.number, date=AS_OF + dt.timedelta(days=1))  # later: excluded
    CreditNoteFactory(invoice=inv, amount=D("50.00"), date=AS_OF)  # counts (on the day)
    CreditNoteFactory(invoice=inv, amount=D("70.00"), date=AS_OF + dt.timedelta(days=1))
    rows = csv_rows(aging_report(as_of=AS_OF))
    assert rows[1] == [
        "A-1",
        "Acme",
        "USD",
        "0.00",
        "850.00",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "850.00",
    ]
    # The day after, everything counts.
    later = aging_report(as_of=AS_OF + dt.timedelta(days=1)).rows[0]
    assert later.buckets[1] == D("580.00")


def test_invoices_dated_after_the_date_and_drafts_are_excluded():
    acc = AccountFactory()
    final_invoice(
        acc, "500.00", invoice_date=AS_OF + dt.timedelta(days=1), due=AS_OF + dt.timedelta(days=31)
    )
    final_invoice(acc, "700.00", status="draft", due=days_ago(5), invoice_date=days_ago(35))
    final_invoice(acc, "900.00", status="rejected", due=days_ago(5), invoice_date=days_ago(35))
    assert aging_report(as_of=AS_OF).rows == []
    assert csv_rows(aging_report(as_of=AS_OF)) == [HEADER]


def test_past_aging_does_not_change_when_later_payments_arrive(finance):
    acc = AccountFactory(external_id="A-1", name="Acme")
    inv = final_invoice(acc, "1000.00", due=days_ago(45), invoice_date=days_ago(75))
    pay(acc, "300.00", inv.number, date=days_ago(20))
    before = aging_report(as_of=AS_OF).to_csv()
    pay(acc, "700.00", inv.number, date=AS_OF + dt.timedelta(days=3))
    pay(acc, "90.00", "", date=AS_OF + dt.timedelta(days=4))
    # A reversal made later does not change the past either.
    first = inv.allocations.order_by("id").first()
    allocation_reverse(allocation=first, user=finance, reason="bounced")
    assert aging_report(as_of=AS_OF).to_csv() == before
    assert "700.00" in before


def test_unapplied_cash_is_subtracted_and_shown():
    acc = AccountFactory(external_id="A-1", name="Acme")
    inv = final_invoice(acc, "400.00", due=days_ago(3), invoice_date=days_ago(33))
    pay(acc, "1000.00", inv.number, date=days_ago(2))
    only_cash = AccountFactory(external_id="B-1", name="Beta")
    PaymentFactory(account=only_cash, amount=D("75.50"), date=days_ago(1))
    rows = csv_rows(aging_report(as_of=AS_OF))
    assert rows[1:] == [
        ["A-1", "Acme", "USD", "0.00", "0.00", "0.00", "0.00", "0.00", "600.00", "-600.00"],
        ["B-1", "Beta", "USD", "0.00", "0.00", "0.00", "0.00", "0.00", "75.50", "-75.50"],
        ["TOTAL", "", "USD", "0.00", "0.00", "0.00", "0.00", "0.00", "675.50", "-675.50"],
    ]


def test_disputed_invoices_stay_in_the_aging(finance):
    acc = AccountFactory(external_id="A-1", name="Acme")
    inv = final_invoice(acc, "250.00", due=days_ago(100), invoice_date=days_ago(130))
    invoice_dispute(invoice=inv, user=finance, reason="contested")
    assert aging_report(as_of=AS_OF).rows[0].buckets[4] == D("250.00")


def test_multi_currency_rows_sorted_by_name_then_id_and_totals_per_currency():
    zed = AccountFactory(external_id="Z-9", name="Zeta")
    alpha2 = AccountFactory(external_id="A-2", name="Alpha")
    alpha1 = AccountFactory(external_id="A-1", name="Alpha")
    final_invoice(zed, "10.00", due=days_ago(0), currency="USD")
    final_invoice(zed, "20.00", due=days_ago(40), currency="EUR")
    final_invoice(alpha2, "30.00", due=days_ago(70), currency="USD")
    final_invoice(alpha1, "40.00", due=days_ago(100), currency="GBP")
    final_invoice(alpha1, "5.00", due=days_ago(100), currency="USD")
    paid = final_invoice(alpha1, "99.00", due=days_ago(100), currency="EUR")
    pay(alpha1, "99.00", paid.number, currency="EUR")  # fully paid: no EUR row for A-1
    rows = csv_rows(aging_report(as_of=AS_OF))
    assert rows == [
        HEADER,
        ["A-1", "Alpha", "GBP", "0.00", "0.00", "0.00", "0.00", "40.00", "0.00", "40.00"],
        ["A-1", "Alpha", "USD", "0.00", "0.00", "0.00", "0.00", "5.00", "0.00", "5.00"],
        ["A-2", "Alpha", "USD", "0.00", "0.00", "0.00", "30.00", "0.00", "0.00", "30.00"],
        ["Z-9", "Zeta", "EUR", "0.00", "0.00", "20.00", "0.00", "0.00", "0.00", "20.00"],
        ["Z-9", "Zeta", "USD", "10.00", "0.00", "0.00", "0.00", "0.00", "0.00", "10.00"],
        ["TOTAL", "", "EUR", "0.00", "0.00", "20.00", "0.00", "0.00", "0.00", "20.00"],
        ["TOTAL", "", "GBP", "0.00", "0.00", "0.00", "0.00", "40.00", "0.00", "40.00"],
        ["TOTAL", "", "USD", "10.00", "0.00", "0.00", "30.00", "5.00", "0.00", "45.00"],
    ]


def test_aging_is_one_query():
    acc = AccountFactory()
    for n in range(5):
        final_invoice(acc, "10.00", due=days_ago(n * 20))
    with CaptureQueriesContext(connection) as queries:
        report = aging_report(as_of=AS_OF)
    reads = [q["sql"] for q in queries if "FROM" in q["sql"]]
    assert len(reads) == 1  # plus SAVEPOINT / SET LOCAL work_mem, jit around it
    assert len(queries) <= 5
    assert report.rows[0].buckets == [D("10.00"), D("10.00"), D("20.00"), D("10.00"), D("0.00")]


# --- exports --------------------------------------------------------------------------------------

EVIL = ['=HYPERLINK("http://x")', "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR"]


@pytest.mark.parametrize("text", EVIL)
def test_neutralize_formula_cells(text):
    assert neutralize(text) == "'" + text
    assert neutralize("-12.50") == "-12.50"  # a number stays a number
    assert neutralize("Acme") == "Acme"


def _evil_report():
    for n, name in enumerate(EVIL):
        acc = AccountFactory(external_id=f"=ID{n}" if n == 0 else f"E-{n}", name=name)
        final_invoice(acc, "10.00", due=days_ago(5))
    return aging_report(as_of=AS_OF)


def test_csv_export_neutralizes_formula_injection():
    rows = csv_rows(_evil_report())
    text_cells = [cell for row in rows[1:] for cell in row[:3]]
    assert all(not c or c[0] not in "=+-@\t\r" for c in text_cells)
    assert ["'=ID0", '\'=HYPERLINK("http://x")'] in [r[:2] for r in rows]
    # Amount cells stay plain numbers, negatives included.
    assert rows[-1][3:] == ["0.00", "60.00", "0.00", "0.00", "0.00", "0.00", "60.00"]


def test_xlsx_export_reads_back_with_numbers_and_totals():
    acc = AccountFactory(external_id="A-1", name="=cmd|' /C calc'!A0")
    final_invoice(acc, "1234.56", due=days_ago(31))
    final_invoice(acc, "10.00", due=days_ago(1), currency="EUR")
    PaymentFactory(account=acc, amount=D("34.56"), date=days_ago(1))
    sheet = load_workbook(io.BytesIO(aging_report(as_of=AS_OF).to_xlsx())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == HEADER
    assert values[1] == ["A-1", "'=cmd|' /C calc'!A0", "EUR", 0, 10, 0, 0, 0, 0, 10]
    assert values[2] == ["A-1", "'=cmd|' /C calc'!A0", "USD", 0, 0, 1234.56, 0, 0, 34.56, 1200]
    assert values[3][:3] == ["TOTAL", None, "EUR"]
    assert values[4] == ["TOTAL", None, "USD", 0, 0, 1234.56, 0, 0, 34.56, 1200]
    assert sheet.cell(row=3, column=6).data_type == "n"
    assert sheet.cell(row=3, column=6).number_format == "0.00"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_json_export():
    acc = AccountFactory(external_id="A-1", name="Acme")
    final_invoice(acc, "100.00", due=days_ago(61))
    data = json.loads(aging_report(as_of=AS_OF).to_json())
    assert data == {
        "as_of": "2026-06-30",
        "rows": [
            {
                "account_id": "A-1",
                "account_name": "Acme",
                "currency": "USD",
                "current": "0.00",
                "1-30": "0.00",
                "31-60": "0.00",
                "61-90": "100.00",
                "91+": "0.00",
                "unapplied": "0.00",
                "total": "100.00",
            }
        ],
        "totals": [
            {
                "currency": "USD",
                "current": "0.00",
                "1-30": "0.00",
                "31-60": "0.00",
                "61-90": "100.00",
                "91+": "0.00",
                "unapplied": "0.00",
                "total": "100.00",
            }
        ],
    }


def test_pdf_export_reads_back():
    acc = AccountFactory(external_id="A-1", name="Acme Widgets")
    final_invoice(acc, "4321.00", due=days_ago(95))
    pdf = aging_pdf(aging_report(as_of=AS_OF))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "AR aging as of 2026-06-30" in text
    assert "Acme Widgets" in text
    assert "4,321.00" in text
    assert "TOTAL" in text


def test_customer_statement_pdf_lists_open_invoices_payments_and_unapplied():
    acc = AccountFactory(external_id="A-1", name="Acme Widgets")
    inv = final_invoice(acc, "1000.00", due=days_ago(10))
    final_invoice(acc, "77.00", due=days_ago(10))  # paid in full below: not listed
    pay(acc, "377.00", "INV", date=days_ago(3))  # oldest first -> ... see below
    pay(acc, "500.00", "", date=AS_OF + dt.timedelta(days=1))  # after the date: not on it
    text = "".join(
        p.extract_text()
        for p in PdfReader(io.BytesIO(statement_pdf(account=acc, as_of=AS_OF))).pages
    )
    assert "Statement of account" in text and "Acme Widgets" in text
    assert inv.number in text
    assert "Balance due" in text
    # 377 paid: due dates tie, number order -> inv (1000) first gets 377; 77-invoice stays open.
    assert "623.00" in text
    assert "700.00" in text  # balance 623 + 77


# --- the command ----------------------------------------------------------------------------------


def test_ar_aging_command_csv_to_stdout_and_files(tmp_path):
    acc = AccountFactory(external_id="A-1", name="Acme")
    final_invoice(acc, "100.00", due=days_ago(61))
    out = io.StringIO()
    call_command("ar_aging", "--as-of", "2026-06-30", stdout=out)
    assert out.getvalue() == aging_report(as_of=AS_OF).to_csv()
    call_command(
        "ar_aging", "--as-of", "06/30/2026", "--format", "json", stdout=(out := io.StringIO())
    )
    assert json.loads(out.getvalue())["rows"][0]["61-90"] == "100.00"
    target = tmp_path / "aging.xlsx"
    call_command("ar_aging", "--as-of", "2026-06-30", "--format", "xlsx", "--output", str(target))
    assert load_workbook(target).active["G2"].value == 100
    target = tmp_path / "aging.csv"
    call_command("ar_aging", "--as-of", "2026-06-30", "--output", str(target))
    assert target.read_bytes().decode() == aging_report(as_of=AS_OF).to_csv()


@pytest.mark.parametrize(
    "args",
    [
        ["--as-of", "2026-13-01"],
        ["--as-of", "yesterday"],
        ["--as-of", "2026-06-30", "--format", "xlsx"],
        ["--as-of", "2026-06-30", "--format", "doc"],
        [],
    ],
)
def test_ar_aging_command_usage_errors_exit_2(args):
    import subprocess
    import sys

    from django.conf import settings

    env = {
        **__import__("os").environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/" + connection.settings_dict["NAME"],
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "ar_aging", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
