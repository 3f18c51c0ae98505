"""Accounting exports (SPEC 5, issue 14): QuickBooks Online, Xero and DATEV files of a date range,
read back; their totals reconcile to the invoices and credit notes of the range."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from core.money import round_money
from invoicing.accounting import QBO_COLUMNS, XERO_COLUMNS, xero_export
from invoicing.models import CreditNote, Invoice
from tests.world.einvoice import build

pytestmark = pytest.mark.django_db
D = Decimal
JAN1, FEB28 = "2026-01-01", "2026-02-28"


@pytest.fixture
def world(billing_admin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(billing_admin)


def export(fmt: str, tmp_path, start=JAN1, end=FEB28) -> bytes:
    out = tmp_path / f"out.{fmt}"
    call_command(
        "export_accounting", "--format", fmt, "--from", start, "--to", end, "--output", str(out)
    )
    return out.read_bytes()


def expected_net_by_number() -> dict[str, Decimal]:
    """Invoices +net, credit notes -net (their e-invoice document's), in the range."""
    from invoicing.einvoice.document import credit_note_document

    out = {i.number: i.net for i in Invoice.objects.filter(status__in=Invoice.FINAL_STATUSES)}
    for note in CreditNote.objects.all():
        out[note.number] = -credit_note_document(note).net
    return out


def test_qbo_csv_has_the_documented_columns_and_reconciles(world, tmp_path):
    rows = list(csv.DictReader(io.StringIO(export("qbo", tmp_path).decode())))
    assert list(rows[0]) == QBO_COLUMNS
    sums: dict[str, Decimal] = {}
    for row in rows:
        sums[row["Invoice number"]] = sums.get(row["Invoice number"], D(0)) + D(row["Item Amount"])
        # Every row multiplies out. QuickBooks reads Item Quantity, Item Rate and Item Amount as
        # one line whose amount is quantity x rate to the cent (what its own invoice form
        # computes); a row where they disagree would not import as the invoice reads. So an
        # adjusted line (quantity x price, then a discount or surcharge) and a per-minute line
        # (price per 60 min) are exported as 1 x their net (accounting._simple).
        quantity, rate, amount = D(row["Item Quantity"]), D(row["Item Rate"]), D(row["Item Amount"])
        assert round_money(quantity * rate) == amount, row
    kinds = {(r["Item Quantity"], r["Item Description"]) for r in rows}
    # The world has hour lines, an adjusted hour line, a per-minute line and credit notes.
    assert ("14.25", "Website relaunch: Engineer") in kinds
    assert ("1", "Audit: Engineer") in kinds and ("1", "Audit: Project Manager") in kinds
    assert any(q == "-1" for q, _ in kinds)
    assert sums == expected_net_by_number()
    first = rows[0]
    assert (first["Invoice number"], first["Customer"], first["Invoice date"], first["Terms"]) == (
        "INV-2026-00001",
        "Bolt GmbH",
        "2026-01-31",
        "Net 30",
    )
    assert first["Memo"] == "PO PO-77"
    credit = [r for r in rows if r["Invoice number"].startswith("CN-")]
    assert credit and all(D(r["Item Amount"]) < 0 for r in credit)


def test_xero_csv_reconciles_net_and_tax(world, tmp_path):
    rows = list(csv.DictReader(io.StringIO(export("xero", tmp_path).decode())))
    assert list(rows[0]) == XERO_COLUMNS
    net: dict[str, Decimal] = {}
    tax: dict[str, Decimal] = {}
    for row in rows:
        n = row["*InvoiceNumber"]
        net[n] = net.get(n, D(0)) + D(row["*Quantity"]) * D(row["*UnitAmount"])
        tax[n] = tax.get(n, D(0)) + D(row["TaxAmount"])
    assert net == expected_net_by_number()
    for invoice in Invoice.objects.filter(status__in=Invoice.FINAL_STATUSES):
        assert tax[invoice.number] == invoice.tax
    note = world["credit_partial"]
    assert net[note.number] + tax[note.number] == -note.amount
    reverse = next(r for r in rows if r["*InvoiceNumber"] == world["reverse_charge"].number)
    assert reverse["*TaxType"] == "Reverse Charge"


def test_xero_splits_more_than_500_invoices_into_a_zip(world):
    from invoicing.accounting import documents_in_range

    docs = documents_in_range(dt.date(2026, 1, 1), dt.date(2026, 2, 28))
    many = (docs * 150)[:1001]
    content, zipped = xero_export(many)
    assert zipped
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        rows = [len(list(csv.DictReader(io.StringIO(archive.read(n).decode())))) for n in names]
    assert names == [
        "xero-sales-invoices-001.csv",
        "xero-sales-invoices-002.csv",
        "xero-sales-invoices-003.csv",
    ]
    chunks = [many[:500], many[500:1000], many[1000:]]
    assert rows == [sum(len(doc.lines) for doc, _ in chunk) for chunk in chunks]


def test_datev_buchungsstapel_header_and_soll_haben_reconcile(world, tmp_path):
    text = export("datev", tmp_path).decode("cp1252")
    lines = text.split("\r\n")
    header = lines[0].split(";")
    assert header[:5] == ['"EXTF"', "700", "21", '"Buchungsstapel"', "13"]
    assert header[12:16] == ["20260101", "4", "20260101", "20260228"]
    assert lines[1].startswith("Umsatz (ohne Soll/Haben-Kz);Soll/Haben-Kennzeichen;WKZ Umsatz")
    bookings = [line.split(";") for line in lines[2:] if line]
    soll = sum(D(b[0].replace(",", ".")) for b in bookings if b[1] == '"S"')
    haben = sum(D(b[0].replace(",", ".")) for b in bookings if b[1] == '"H"')
    eur = Invoice.objects.filter(status__in=Invoice.FINAL_STATUSES, currency="EUR")
    eur_notes = CreditNote.objects.filter(currency="EUR")
    assert soll == sum(i.total for i in eur)
    assert haben == sum(n.amount for n in eur_notes)
    first = bookings[0]
    # 2137.50 + 406.13 on the debtor account against 8400 (19 %), dated 31.01.
    assert [x for x in bookings if x[10] == '"INV-2026-00001"' and x[7] == "8400"][0][
        0
    ] == "2543,63"
    assert first[6] == "10000" and first[9] == "3101"
    assert all(b[2] == '"EUR"' for b in bookings)  # the USD invoice and credit are skipped


def test_datev_range_across_fiscal_years_is_refused(world, tmp_path):
    with pytest.raises(CommandError) as exc:
        export("datev", tmp_path, start="2025-12-01", end="2026-01-31")
    assert exc.value.returncode == 1
    assert "one fiscal year" in str(exc.value)


def test_range_limits_the_documents(world, tmp_path):
    rows = list(csv.DictReader(io.StringIO(export("qbo", tmp_path, end="2026-01-31").decode())))
    numbers = {r["Invoice number"] for r in rows}
    assert world["prepaid"].number not in numbers  # dated 2026-02-28
    assert not any(n.startswith("CN-") for n in numbers)  # credits dated in February


def test_finance_page_downloads_the_export(world, client_for, finance):
    client = client_for(finance)
    form = client.get("/receivables/accounting/")
    assert form.status_code == 200 and b'id="accounting-export"' in form.content
    response = client.get("/receivables/accounting/?from=2026-01-01&to=2026-02-28&format=qbo")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="qbo-2026-01-01-2026-02-28.csv"'
    assert response.content.decode().splitlines()[0] == ",".join(QBO_COLUMNS)
    refused = client.get("/receivables/accounting/?from=2025-12-01&to=2026-01-31&format=datev")
    assert refused.status_code == 200 and b"one fiscal year" in refused.content
