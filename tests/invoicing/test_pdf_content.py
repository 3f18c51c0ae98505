"""What a VAT invoice must state (SPEC 3.1, issue 14), read back from really rendered PDFs:
seller and buyer blocks with VAT IDs, bank details and payment reference, quantity with unit,
unit price, VAT category and rate, the breakdown with exemption reasons, notes; an adjusted
line multiplies out with a separate discount or surcharge and never shows its internal reason."""

from __future__ import annotations

import io
import subprocess
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing.pdf import credit_note_pdf, invoice_pdf
from tests.world.einvoice import (
    ADJUSTMENT,
    MILESTONE,
    build,
    draft,
    eu_buyer,
    fixed_line,
    time_line,
    two_rate_draft,
    us_buyer,
)

pytestmark = pytest.mark.django_db
D = Decimal


def flat(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def pdftotext(data: bytes) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def adjusted_draft():
    return draft(
        us_buyer(),
        [
            time_line(
                855,
                "150.00",
                description="Audit: Engineer",
                tax_rate=D("8.25"),
                amount=D("2000.00"),
                priced_amount=D("2137.50"),
                adjustment_reason="Goodwill discount agreed with customer",
            ),
            fixed_line(
                MILESTONE,
                "600.00",
                description="Audit: report",
                tax_rate=D("8.25"),
                priced_amount=D("500.00"),
                adjustment_reason="Extra chapter requested by the partner",
            ),
            fixed_line(
                ADJUSTMENT,
                "412.60",
                description="Travel",
                tax_rate=D("8.25"),
                adjustment_reason="Receipts in the shared drive",
            ),
        ],
        currency="USD",
    )


def test_adjusted_draft_shows_no_internal_reason_and_multiplies_out():
    invoice = adjusted_draft()
    layout = pdftotext(invoice_pdf(invoice))
    for reason in ("Goodwill", "Extra chapter", "Receipts", "Adjusted"):
        assert reason not in layout, reason
    t = " ".join(layout.split())
    assert "Audit: Engineer 14.25 h 150.00 S 8.25% 2,137.50" in t
    assert "Discount on the line above -137.50" in t
    assert "Audit: report 1 unit 500.00 S 8.25% 500.00" in t
    assert "Surcharge on the line above 100.00" in t
    assert "Travel 1 unit 412.60 S 8.25% 412.60" in t
    # One breakdown row, the rate printed one way: 3012.60 x 8.25% = 248.54.
    assert "S Standard rate 8.25% 3,012.60 248.54" in t
    assert "8.250" not in t and "Tax 0%" not in t
    assert "USD 3,261.14" in t


def test_approved_invoice_states_seller_buyer_vat_ids_bank_and_reference(billing_admin):
    world = build(billing_admin)
    invoice = world["multi_rate"]
    with invoice.pdf.open("rb") as fh:
        t = flat(fh.read())
    for expected in [
        "Northwind IT Services",
        "1 Harbour Street",
        "D02 X285 Dublin",
        "VAT ID IE6388047V",
        "Registered in Ireland, no. 123456",
        "Bolt GmbH",
        "Hauptstrasse 5",
        "Haus B",
        "10115 Berlin",
        "VAT ID DE123456789",
        "Buyer reference 04011000-12345-34",
        "Invoice INV-2026-00001",
        "PO-77",
        "Service period 2026-01-01 to 2026-01-31",
        "Website relaunch: Engineer 2026-01-05 to 2026-01-28",
        "14.25 h 150.00 S 19% 2,137.50",
        "Training: workshop 1 unit 1,000.00 S 7% 1,000.00",
        "Books 1 unit 300.00 Z 0% 300.00",
        "Z Zero rated 0% 300.00 0.00",
        "S Standard rate 7% 1,000.00 70.00",
        "S Standard rate 19% 2,137.50 406.13",
        "Amount due EUR 3,913.63",
        "Payment reference INV-2026-00001",
        "IBAN IE29AIBK93115212345678",
        "BIC AIBKIE2D",
        "Bank Allied Irish Banks",
        "Instructions Bank transfer; please quote the invoice number.",
        "Thank you for your business.",
    ]:
        assert expected in t, expected
    assert "DRAFT" not in t


def bill_to(layout: str) -> list[str]:
    """The buyer block of a pdftotext -layout page: the lines after "Bill to" up to a blank one."""
    lines = [x.strip() for x in layout.splitlines()]
    start = lines.index("Bill to") + 1
    return lines[start : lines.index("", start)]


def test_bank_instructions_and_buyer_country_come_from_the_settings_and_the_account(settings):
    settings.BILLING_FIRM_BANK = "Bank of Ireland Dublin"
    settings.BILLING_FIRM_IBAN = "IE64 BOFI 9058 3812 3456 78"
    settings.BILLING_FIRM_BIC = "bofiie2d"
    settings.BILLING_PAYMENT_INSTRUCTIONS = "SEPA credit transfer only; quote the invoice number."
    layout = pdftotext(invoice_pdf(two_rate_draft()))
    assert bill_to(layout)[:5] == ["Bolt GmbH", "Hauptstrasse 5", "Haus B", "10115 Berlin", "DE"]
    t = " ".join(layout.split())
    assert "Bank Bank of Ireland Dublin" in t
    assert "IBAN IE64BOFI90583812345678" in t and "BIC BOFIIE2D" in t
    assert "Instructions SEPA credit transfer only; quote the invoice number." in t
    assert "Allied Irish Banks" not in t and "Bank transfer; please" not in t

    us = pdftotext(invoice_pdf(draft(us_buyer(), [time_line(60, "100.00")], currency="USD")))
    assert bill_to(us)[:4] == ["Acme Corp", "500 Market St", "94105 San Francisco", "US"]
    # SPEC 1.1: a blank Billing Country is the firm's country, and it is printed too.
    local = eu_buyer(external_id="ACC-IE", name="Liffey Ltd", billing_country="", buyer_vat_id="")
    home = pdftotext(invoice_pdf(draft(local, [time_line(60, "100.00")])))
    assert bill_to(home)[:4] == ["Liffey Ltd", "Hauptstrasse 5", "Haus B", "10115 Berlin"]
    assert bill_to(home)[4] == "IE"


def test_reverse_charge_breakdown_prints_the_exemption_reason(billing_admin):
    world = build(billing_admin)
    with world["reverse_charge"].pdf.open("rb") as fh:
        t = flat(fh.read())
    assert "AE Reverse charge Reverse charge (Art. 196 VAT Directive) 0% 1,200.00 0.00" in t
    assert "VAT ID ATU12345678" in t


def test_credit_note_pdf_states_its_vat_breakdown(billing_admin):
    world = build(billing_admin)
    note = world["credit_partial"]
    t = flat(credit_note_pdf(note))
    assert f"Credit note {note.number}" in t
    assert f"Credit on invoice {note.invoice.number}: Service credit S 19% 273.08" in t
    assert "S Standard rate 19% 273.08 51.89" in t
    assert "Total credited EUR 500.00" in t
    assert "VAT ID DE123456789" in t
