"""Invoice and credit note PDFs are really rendered (WeasyPrint) and read back (pypdf)."""

from __future__ import annotations

import io
import time
from decimal import Decimal

import pytest
from pypdf import PdfReader

from invoicing import pdf, services
from invoicing.models import Invoice, InvoiceLine
from tests.factories import InvoiceFactory
from tests.invoicing.helpers import JAN, approve, build_firm

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path
    settings.BILLING_FIRM_NAME = "Northwind IT Services"
    settings.BILLING_FIRM_ADDRESS = "1 Harbour Street\nSpringfield"


def text_of(data: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


def test_draft_pdf_has_letterhead_customer_lines_taxes_total_appendix_and_watermark():
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-1")
    text, pages = text_of(pdf.invoice_pdf(invoice))
    t = flat(text)
    assert "DRAFT" in t
    for expected in [
        "Northwind IT Services",
        "1 Harbour Street",
        "Springfield",
        "Acme Corp",
        "ACC-A",
        "ap@acme.example",
        "PO-1",
        "2026-01-31",
        "2026-02-15",
        "P100: Professional services",
        "P100: Engineer",
        "P101: prepaid block of 2 hours",
        "P101: Professional services, beyond the prepaid block",
        "P102: milestone Kick-off (33%)",
        "393.75",
        "3,300.00",
        "S Standard rate 10% 768.75 76.88",
        "Z Zero rated 0% 3,300.00 0.00",
        "2.25 h 175.00 S 10% 393.75",
        "USD 76.88",
        "USD 4,145.63",
        "Payable within 15 days",
        "Appendix: time entries billed",
        "Wireframes",
        "Ben Baker",
    ]:
        assert expected in t, expected
    # Children listed under their parent, in Agreement ID order; no internal Agreement IDs.
    assert t.index("P100 P100:") < t.index("P101 P101:") < t.index("P102 P102:")
    assert "AGR-10" not in t
    assert pages >= 2  # the appendix starts on its own page


def test_approved_pdf_has_the_number_and_no_watermark(billing_admin):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = approve(invoice=Invoice.objects.get(po_number="PO-1"), user=billing_admin)
    with invoice.pdf.open("rb") as fh:
        t = flat(text_of(fh.read())[0])
    assert "Invoice INV-2026-00001" in t and "DRAFT" not in t
    assert "USD 4,145.63" in t
    for line in invoice.lines.all():
        assert line.description in t


def test_a_thousand_line_invoice_renders():
    invoice = InvoiceFactory(net=D("100000.00"), total=D("100000.00"))
    InvoiceLine.objects.bulk_create(
        InvoiceLine(
            invoice=invoice,
            kind="adjustment",
            position=i,
            description=f"Line number {i:04d}",
            amount=D("100.00"),
        )
        for i in range(1, 1001)
    )
    started = time.monotonic()
    data = pdf.invoice_pdf(invoice)
    seconds = time.monotonic() - started
    text, pages = text_of(data)
    t = flat(text)
    assert pages >= 15
    assert "Line number 0001" in t and "Line number 1000" in t
    assert sum(f"Line number {i:04d}" in t for i in range(1, 1001)) == 1000
    assert "USD 100,000.00" in t
    assert seconds < 120, f"1,000 lines took {seconds:.1f} s"


def test_customer_text_cannot_fetch_files_or_urls(tmp_path):
    invoice = InvoiceFactory()
    InvoiceLine.objects.create(
        invoice=invoice,
        kind="adjustment",
        amount=D("1.00"),
        description='<img src="file:///etc/passwd"><link rel=stylesheet href="http://127.0.0.1:9/x.css">',
    )
    t = flat(text_of(pdf.invoice_pdf(invoice))[0])
    assert '<img src="file:///etc/passwd">' in t  # printed as text, never fetched


def test_logo_only_from_inside_templates(settings):
    from core.pdf import firm_letterhead

    settings.BILLING_FIRM_LOGO = "/etc/hostname"
    assert firm_letterhead()["logo"] is None
    settings.BILLING_FIRM_LOGO = "invoicing/pdf/base.html"  # a file inside templates/
    assert firm_letterhead()["logo"].startswith("file://")


def test_credit_note_pdf(billing_admin, finance):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = approve(invoice=Invoice.objects.get(po_number="PO-2"), user=billing_admin)
    note = services.credit_note_create(
        invoice=invoice, amount="25.50", reason="Travel time not billable", user=finance
    )
    with note.pdf.open("rb") as fh:
        t = flat(text_of(fh.read())[0])
    for expected in [
        "Credit note CN-",
        "INV-2026-00001",
        "Travel time not billable",
        "USD 25.50",
        "Acme Corp",
    ]:
        assert expected in t, expected


def test_every_page_is_numbered_in_one_layout_pass():
    """Footer "page X" without "of Y": counter(pages) would make WeasyPrint lay out twice."""
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-1")
    data = pdf.invoice_pdf(invoice)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 2  # the lines, then the appendix on its own page
    for number, page in enumerate(reader.pages, start=1):
        footer = flat(page.extract_text())
        assert f"DRAFT #{invoice.pk} · page {number}" in footer
        assert f"page {number} of" not in footer
