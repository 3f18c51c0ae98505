"""generate_invoices, approve_invoices, export_invoices (SPEC 5): output and exit codes."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from invoicing import services
from invoicing.models import Invoice
from tests.factories import InvoiceFactory, InvoiceLineFactory
from tests.invoicing.helpers import JAN, approve, build_firm

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def test_generate_invoices_runs_the_period_and_reports_counts():
    build_firm()
    code, out, _ = run("generate_invoices", "--period", "2026-01", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary | {"run_id": 0} == {
        "run_id": 0,
        "period": "2026-01",
        "status": "done",
        "groups": 3,
        "invoices_created": 3,
        "invoices_updated": 0,
        "lines_written": 7,
        "entries_billed": 8,
    }
    assert Invoice.objects.filter(status="draft").count() == 3


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "January", "2026/01"])
def test_generate_invoices_bad_period_is_a_usage_error(period):
    code, _, err = run("generate_invoices", "--period", period)
    assert code == 2 and "YYYY-MM" in err
    assert not Invoice.objects.exists()


def test_generate_invoices_without_period_exits_2_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "manage.py", "generate_invoices"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--period" in done.stderr


def test_approve_invoices_by_period_reports_refusals_and_exits_1(
    billing_admin, second_billing_admin
):
    build_firm()
    services.invoice_run_generate(period=JAN)
    drafts = list(Invoice.objects.order_by("id"))
    services.invoice_line_add(
        invoice=drafts[1],
        user=billing_admin,
        reason="Goodwill",
        description="Discount",
        amount="-5.00",
    )
    code, out, err = run(
        "approve_invoices", "--user", billing_admin.username, "--period", "2026-01"
    )
    assert code == 1
    assert out.splitlines() == [
        f"invoice {drafts[0].pk}: approved as INV-2026-00001",
        f"invoice {drafts[2].pk}: approved as INV-2026-00002",
    ]
    assert (
        f"invoice {drafts[1].pk}: You adjusted draft #{drafts[1].pk}; another billing admin must approve it."
        in err
    )
    code, out, _ = run(
        "approve_invoices",
        "--user",
        second_billing_admin.username,
        "--id",
        str(drafts[1].pk),
        "--json",
    )
    assert code == 0
    assert json.loads(out) == {
        "approved": [{"id": drafts[1].pk, "number": "INV-2026-00003"}],
        "refused": [],
    }


def test_approve_invoices_usage_errors(billing_admin, finance):
    invoice = InvoiceFactory()
    InvoiceLineFactory(invoice=invoice)
    assert run("approve_invoices", "--user", "nobody", "--id", str(invoice.pk))[0] == 2
    assert run("approve_invoices", "--user", finance.username, "--id", str(invoice.pk))[0] == 2
    assert run("approve_invoices", "--user", billing_admin.username, "--period", "26-01")[0] == 2
    code, _, err = run("approve_invoices", "--user", billing_admin.username, "--id", "999999")
    assert code == 1 and "invoice 999999: no invoice with id 999999" in err
    invoice.refresh_from_db()
    assert invoice.status == "draft"


def test_export_invoices_json_has_exactly_specs_fields(billing_admin):
    build_firm()
    services.invoice_run_generate(period=JAN)
    approve(invoice=Invoice.objects.get(po_number="PO-2"), user=billing_admin)
    code, out, _ = run("export_invoices", "--format", "json")
    assert code == 0
    data = {i["po_number"] or i["currency"]: i for i in json.loads(out)}
    po2 = Invoice.objects.get(po_number="PO-2")
    assert data["PO-2"] == {
        "id": po2.pk,
        "number": "INV-2026-00001",
        "status": "approved",
        "account_id": "ACC-A",
        "currency": "USD",
        "po_number": "PO-2",
        "period": "2026-01",
        "invoice_date": "2026-01-31",
        "due_date": "2026-03-02",
        "net": "75.00",
        "tax": "0.00",
        "total": "75.00",
        "open_amount": "75.00",
        "lines": [
            {
                "agreement_id": "AGR-200",
                "description": "P200: Professional services",
                "role": "",
                "hours": "0.75",
                "rate": "100.00",
                "amount": "75.00",
                "tax_rate": "0.000",
            }
        ],
        "entry_ids": ["6"],
    }
    po1 = data["PO-1"]
    assert po1["number"] is None and po1["status"] == "draft"
    assert po1["entry_ids"] == ["1", "2", "3", "12", "5"]  # entry 4 is wholly in the block
    block = [x for x in po1["lines"] if "prepaid block of" in x["description"]][0]
    milestone = [x for x in po1["lines"] if "milestone" in x["description"]][0]
    assert (block["hours"], block["rate"], block["amount"]) == (None, None, "250.00")
    assert (milestone["hours"], milestone["rate"], milestone["amount"]) == (None, None, "3300.00")

    code, out, _ = run("export_invoices", "--status", "approved")
    assert [i["number"] for i in json.loads(out)] == ["INV-2026-00001"]


def test_export_invoices_csv_one_row_per_line_and_neutralised_cells(billing_admin):
    invoice = InvoiceFactory(
        po_number='=HYPERLINK("http://x")', net=D("-100.00"), total=D("-100.00")
    )
    InvoiceLineFactory(
        invoice=invoice,
        kind="adjustment",
        description="@SUM(A1)",
        amount=D("-100.00"),
        hours=None,
        rate=None,
        minutes=None,
        role="+cmd",
    )
    empty = InvoiceFactory(account=invoice.account)
    code, out, _ = run("export_invoices", "--format", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    # The header: the JSON export's invoice fields (SPEC's, checked above), the line's number, the
    # JSON's line fields and the Entry IDs billed on the line, in that order.
    _, as_json, _ = run("export_invoices")
    with_lines = next(i for i in json.loads(as_json) if i["lines"])
    invoice_fields = [f for f in with_lines if f not in ("lines", "entry_ids")]
    assert rows[0] == [*invoice_fields, "line_no", *with_lines["lines"][0], "entry_ids"]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["po_number"] == '\'=HYPERLINK("http://x")'
    assert (first["description"], first["role"]) == ("'@SUM(A1)", "'+cmd")
    assert (first["amount"], first["net"], first["total"]) == ("-100.00", "-100.00", "-100.00")
    assert (first["hours"], first["rate"], first["line_no"]) == ("", "", "1")
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["id"] == str(empty.pk) and second["line_no"] == "" and second["description"] == ""
    assert len(rows) == 3


def test_export_queries_do_not_grow_with_invoices(django_assert_max_num_queries):
    build_firm()
    services.invoice_run_generate(period=JAN)
    for _ in range(20):
        InvoiceLineFactory(invoice=InvoiceFactory())
    with django_assert_max_num_queries(6):
        code, out, _ = run("export_invoices", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 1 + 7 + 20
