"""import_payments (SPEC 1.3 and 5): all or nothing, line/column errors, idempotent, file order."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from invoicing.models import Invoice
from receivables.models import Allocation, Payment
from receivables.services import payment_import, payment_import_rows
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
HEADER = "Payment ID,Date,Account ID,Amount,Currency,Reference,Method\n"


@pytest.fixture
def acme():
    return AccountFactory(external_id="ACME", name="Acme")


def run(text: str, **kwargs):
    return payment_import(file=text.encode(), **kwargs)


def test_import_allocates_in_file_order(acme, finance):
    inv1 = final_invoice(acme, "100.00", due=dt.date(2026, 1, 31), seq=1)
    inv2 = final_invoice(acme, "300.00", due=dt.date(2026, 2, 28), seq=2)
    text = (
        HEADER
        + "P-2,2026-03-02,ACME,250.00,,INV-2026-00002,wire\n"
        + "P-1,03/01/2026,ACME,200.00,USD,,check\n"
    )
    result = run(text, user=finance)
    assert result.as_dict() == {"created": 2, "updated": 0, "unchanged": 0, "errors": []}
    # P-2 (first in the file) pays its reference; P-1 then pays the oldest (inv1) and the rest of inv2.
    assert list(
        Allocation.objects.order_by("id").values_list(
            "payment__external_id", "invoice__number", "amount", "date"
        )
    ) == [
        ("P-2", inv2.number, D("250.00"), dt.date(2026, 3, 2)),
        ("P-1", inv1.number, D("100.00"), dt.date(2026, 3, 1)),
        ("P-1", inv2.number, D("50.00"), dt.date(2026, 3, 1)),
    ]
    assert set(Invoice.objects.values_list("status", flat=True)) == {"paid"}
    p1 = Payment.objects.get(external_id="P-1")
    assert (p1.method, p1.currency, p1.created_by) == ("check", "USD", finance)
    assert p1.history.get().history_user == finance
    assert result.notices == [
        "Read as billable (payments CSV, SPEC 1.3): 2 row(s).",
        # The shared reader (SPEC 1.4) says how it read a date that fits two orders.
        "Dates such as 03/01/2026 were read in month/day/year order (2026-03-01); if the file "
        "means day/month/year, import with --date-order dmy.",
        "P-2: USD 250.00 applied USD 250.00 to INV-2026-00002",
        "P-1: USD 200.00 applied USD 100.00 to INV-2026-00001; USD 50.00 to INV-2026-00002; "
        "USD 50.00 unapplied",
    ]


def test_reimport_same_file_is_unchanged(acme):
    final_invoice(acme, "100.00")
    text = HEADER + "P-1,2026-03-01,ACME,80.00,USD,card 4111 1111 1111 1111,card\n"
    assert run(text).created == 1
    before = list(Allocation.objects.values_list("id", "amount"))
    again = run(text)
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 1, "errors": []}
    assert list(Allocation.objects.values_list("id", "amount")) == before
    assert Payment.objects.get().reference == "card **** **** **** 1111"


def test_reimport_with_different_values_is_an_error_and_writes_nothing(acme):
    run(HEADER + "P-1,2026-03-01,ACME,80.00,USD,,\n")
    result = run(HEADER + "P-9,2026-03-01,ACME,5.00,USD,,\nP-1,2026-03-01,ACME,81.00,USD,,\n")
    assert [str(e) for e in result.errors] == [
        "line 3: Payment ID: payment already recorded with different values"
    ]
    assert list(Payment.objects.values_list("external_id", "amount")) == [("P-1", D("80.00"))]


def test_every_row_error_reported_with_line_and_column_and_nothing_written(acme):
    final_invoice(acme, "100.00")
    text = (
        HEADER
        + "P-1,2026-03-01,ACME,10.00,USD,,\n"
        + "P-2,2026-02-30,ACME,0,usd,,\n"
        + '"P-3","2026-03-01","NOPE","1,000.00",,"multi\nline ref",\n'
        + "P-1,2026-03-01,ACME,10.00,USD,,\n"
        + ",2026-03-01,ACME,10.005,USD,,\n"
    )
    result = run(text)
    # The shared reader (SPEC 1.4) reads each cell first: a row with a cell it cannot read (a
    # date that does not exist, 3 decimals) is reported for that cell only; "1,000.00" is 1000
    # with the decimal point (thousands separators of the chosen convention are accepted).
    assert [str(e) for e in result.errors] == [
        "line 3: Date: is not a real date, got '2026-02-30'",
        "line 4: Account ID: account NOPE does not exist",
        "line 6: Payment ID: P-1 appears more than once in this file (first on line 2)",
        "line 7: Amount: has more than 2 decimal places, got '10.005'; if it is a European "
        "amount with a thousands dot, import with --decimal comma",
    ]
    assert Payment.objects.count() == 0 and Allocation.objects.count() == 0
    assert Invoice.objects.get().status == "approved"


def test_missing_required_column_rejects_the_file(acme):
    result = run("Payment ID,Date,Amount\nP-1,2026-03-01,10.00\n")
    assert [str(e) for e in result.errors] == [
        "line 1: Account ID: required column is missing from the header"
    ]
    assert Payment.objects.count() == 0


def test_header_case_bom_unknown_columns_and_default_currency(acme):
    text = "\ufeff payment id ,DATE,account ID,amount,Bank Branch\nP-1,2026-03-01,ACME,12.50,X\n"
    assert run(text).created == 1
    assert Payment.objects.get().currency == "USD"


def test_dry_run_reports_but_writes_nothing(acme):
    final_invoice(acme, "100.00", seq=1)
    result = run(HEADER + "P-1,2026-03-01,ACME,100.00,USD,,\n", dry_run=True)
    assert (result.created, result.dry_run, result.errors) == (1, True, [])
    assert result.notices == [
        "Read as billable (payments CSV, SPEC 1.3): 1 row(s).",
        "P-1: USD 100.00 applied USD 100.00 to INV-2026-00001",
    ]
    assert Payment.objects.count() == 0 and Allocation.objects.count() == 0
    assert Invoice.objects.get().status == "approved"


def test_import_rows_from_json(acme):
    result = payment_import_rows(
        rows=[{"Payment ID": "J-1", "Date": "2026-03-01", "Account ID": "ACME", "Amount": 12.5}]
    )
    assert result.as_dict() == {"created": 1, "updated": 0, "unchanged": 0, "errors": []}
    assert Payment.objects.get().amount == D("12.50")
    bad = payment_import_rows(
        rows=[{"Payment ID": "J-2", "Date": "x", "Account ID": "ACME", "Amount": "1"}]
    )
    assert [str(e) for e in bad.errors] == [
        "line 2: Date: must be a date as YYYY-MM-DD or in month/day/year order, got 'x'"
    ]


def test_command_exit_codes_and_json(acme, tmp_path, capsys):
    good = tmp_path / "pay.csv"
    good.write_text(HEADER + "P-1,2026-03-01,ACME,10.00,USD,,\n")
    out = io.StringIO()
    call_command("import_payments", str(good), "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"created": 1, "updated": 0, "unchanged": 0, "errors": []}
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "P-2,2026-03-01,NOPE,10.00,USD,,\n")
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_payments", str(bad), "--json", stdout=(out := io.StringIO()), stderr=err
        )
    assert exit_info.value.code == 1
    assert json.loads(out.getvalue())["errors"] == [
        {"line": 2, "column": "Account ID", "message": "account NOPE does not exist"}
    ]
    assert err.getvalue().strip() == "line 2: Account ID: account NOPE does not exist"
    assert Payment.objects.count() == 1
