"""E-invoices (SPEC 3.2, issue 14): UBL, CII and Factur-X of every kind of invoice and credit note
pass the official EN 16931 rules; the Factur-X PDF is a PDF/A-3 with factur-x.xml embedded; the
XML totals are the invoice's; approval refuses an invoice whose e-invoice could not be valid."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader

from core.errors import BillingError
from invoicing.einvoice import einvoice_file
from invoicing.einvoice.cii import RAM
from invoicing.einvoice.ubl import CBC
from invoicing.models import Invoice
from invoicing.services import invoice_approve
from tests.invoicing.helpers import VALIDATOR, validate
from tests.world.einvoice import build, draft, eu_buyer, time_line

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def world(billing_admin):
    return build(billing_admin)


def test_the_validator_is_beside_the_repository():
    assert VALIDATOR.is_file(), VALIDATOR


def test_every_einvoice_of_every_kind_passes_en16931(world, tmp_path):
    paths = []
    for name, subject in world.items():
        for fmt in ("ubl", "cii", "facturx"):
            file = einvoice_file(subject, fmt)
            path = tmp_path / f"{name}-{file.filename}"
            path.write_bytes(file.content)
            paths.append(path)
    result = validate(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[fatal]" not in result.stdout


def _cii_totals(xml: bytes) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    root = etree.fromstring(xml)
    ns = {"ram": RAM}

    def one(tag: str) -> Decimal:
        return D(
            root.findtext(
                f".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:{tag}", namespaces=ns
            )
        )

    return (
        one("TaxBasisTotalAmount"),
        one("TaxTotalAmount"),
        one("GrandTotalAmount"),
        one("DuePayableAmount"),
    )


def _ubl_totals(xml: bytes) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    root = etree.fromstring(xml)
    ns = {"cbc": CBC, "cac": root.nsmap["cac"]}
    total = root.find("cac:LegalMonetaryTotal", ns)
    tax = D(root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=ns))
    return (
        D(total.findtext("cbc:TaxExclusiveAmount", namespaces=ns)),
        tax,
        D(total.findtext("cbc:TaxInclusiveAmount", namespaces=ns)),
        D(total.findtext("cbc:PayableAmount", namespaces=ns)),
    )


def test_xml_totals_are_the_invoices_and_credit_notes_pay_exactly_their_amount(world):
    for name, subject in world.items():
        cii = einvoice_file(subject, "cii").content
        ubl = einvoice_file(subject, "ubl").content
        if isinstance(subject, Invoice):
            expected = (subject.net, subject.tax, subject.total, subject.total)
            assert _cii_totals(cii) == expected, name
            assert _ubl_totals(ubl) == expected, name
        else:
            assert _cii_totals(cii)[3] == subject.amount, name
            assert _ubl_totals(ubl)[3] == subject.amount, name


def test_multi_rate_invoice_has_one_breakdown_per_category_and_rate(world):
    invoice = world["multi_rate"]
    assert (invoice.net, invoice.tax, invoice.total) == (D("3437.50"), D("476.13"), D("3913.63"))
    root = etree.fromstring(einvoice_file(invoice, "cii").content)
    ns = {"ram": RAM}
    rows = [
        (
            t.findtext("ram:CategoryCode", namespaces=ns),
            t.findtext("ram:RateApplicablePercent", namespaces=ns),
            t.findtext("ram:BasisAmount", namespaces=ns),
            t.findtext("ram:CalculatedAmount", namespaces=ns),
        )
        for t in root.iterfind(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", ns)
    ]
    assert rows == [
        ("Z", "0", "300.00", "0.00"),
        ("S", "7", "1000.00", "70.00"),
        ("S", "19", "2137.50", "406.13"),
    ]
    seller_vat = root.findtext(
        ".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=ns
    )
    buyer_vat = root.findtext(
        ".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=ns
    )
    assert (seller_vat, buyer_vat) == ("IE6388047V", "DE123456789")
    assert root.findtext(".//ram:BuyerReference", namespaces=ns) == "04011000-12345-34"
    assert root.findtext(".//ram:IBANID", namespaces=ns) == "IE29AIBK93115212345678"


def test_adjusted_line_carries_a_discount_and_no_internal_reason(world):
    for fmt in ("ubl", "cii"):
        xml = einvoice_file(world["adjusted_usd"], fmt).content
        assert b"Goodwill" not in xml and b"internal" not in xml and b"Sales asked" not in xml
    root = etree.fromstring(einvoice_file(world["adjusted_usd"], "ubl").content)
    ns = {"cbc": CBC, "cac": root.nsmap["cac"]}
    first = root.find("cac:InvoiceLine", ns)
    assert first.findtext("cbc:InvoicedQuantity", namespaces=ns) == "14.25"
    assert first.findtext("cac:Price/cbc:PriceAmount", namespaces=ns) == "150"
    assert first.findtext("cac:AllowanceCharge/cbc:Amount", namespaces=ns) == "137.50"
    assert first.findtext("cbc:LineExtensionAmount", namespaces=ns) == "2000.00"
    # 50 minutes is not a whole number of 1/10,000 hours: minutes at the rate per 60.
    second = root.findall("cac:InvoiceLine", ns)[1]
    assert second.find("cbc:InvoicedQuantity", ns).attrib["unitCode"] == "MIN"
    assert second.findtext("cac:Price/cbc:BaseQuantity", namespaces=ns) == "60"
    # The added discount: -1 unit at a positive price (BR-27).
    last = root.findall("cac:InvoiceLine", ns)[3]
    assert last.findtext("cbc:InvoicedQuantity", namespaces=ns) == "-1"
    assert last.findtext("cac:Price/cbc:PriceAmount", namespaces=ns) == "50"


def test_facturx_pdf_is_pdfa3_with_the_cii_embedded(world):
    invoice = world["multi_rate"]
    with invoice.pdf.open("rb") as fh:
        stored = fh.read()
    reader = PdfReader(io.BytesIO(stored))
    assert list(reader.attachments) == ["factur-x.xml"]
    assert reader.attachments["factur-x.xml"][0] == einvoice_file(invoice, "cii").content
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root
    xmp = root["/Metadata"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<pdfaid:conformance>B</pdfaid:conformance>" in xmp
    assert b"EN 16931" in xmp
    (spec,) = root["/AF"]
    assert spec.get_object()["/AFRelationship"] == "/Data"
    # The download is the stored final PDF, byte for byte.
    assert einvoice_file(invoice, "facturx").content == stored


def test_credit_note_references_its_invoice_and_credits_in_proportion(world):
    note = world["credit_partial"]
    root = etree.fromstring(einvoice_file(note, "ubl").content)
    ns = {"cbc": CBC, "cac": root.nsmap["cac"]}
    assert etree.QName(root).localname == "CreditNote"
    assert (
        root.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=ns)
        == note.invoice.number
    )
    nets = [
        x.findtext("cbc:LineExtensionAmount", namespaces=ns)
        for x in root.findall("cac:CreditNoteLine", ns)
    ]
    # 500.00 of 3913.63: each tax group's base x 500 / 3913.63.
    assert nets == ["38.33", "127.76", "273.08"]
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=ns) == "500.00"


def test_xml_is_a_pure_function_of_the_frozen_invoice(world, settings):
    invoice = world["multi_rate"]
    before = {fmt: einvoice_file(invoice, fmt).content for fmt in ("ubl", "cii")}
    settings.BILLING_FIRM_NAME = "Renamed Ltd"
    account = invoice.account
    account.billing_city = "Hamburg"
    account.save()
    invoice.refresh_from_db()
    assert {fmt: einvoice_file(invoice, fmt).content for fmt in ("ubl", "cii")} == before


def test_approval_refuses_a_missing_seller_vat_id_and_changes_nothing(settings, billing_admin):
    settings.BILLING_FIRM_VAT_ID = ""
    invoice = draft(eu_buyer(), [time_line(60, "100.00", tax_rate=D("19"))])
    with pytest.raises(BillingError) as exc:
        invoice_approve(invoice=invoice, user=billing_admin, version=invoice.version)
    assert "BILLING_FIRM_VAT_ID is not set" in str(exc.value)
    assert "(BR-S-02)" in str(exc.value)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.parties, bool(invoice.pdf)) == (
        "draft",
        None,
        {},
        False,
    )


def test_approval_refuses_reverse_charge_for_a_buyer_without_vat_id(billing_admin):
    invoice = draft(
        eu_buyer(buyer_vat_id=""),
        [time_line(60, "100.00", tax_category="AE", tax_exemption_reason="Reverse charge")],
    )
    with pytest.raises(BillingError) as exc:
        invoice_approve(invoice=invoice, user=billing_admin, version=invoice.version)
    assert (
        "Account ACC-DE has no Buyer VAT ID: VAT category AE needs the buyer's VAT ID (BR-AE-02)."
        in str(exc.value)
    )
    invoice.refresh_from_db()
    assert invoice.status == "draft" and invoice.number is None


def test_einvoice_of_a_draft_is_refused(billing_admin):
    invoice = draft(eu_buyer(), [time_line(60, "100.00", tax_rate=D("19"))])
    with pytest.raises(BillingError):
        einvoice_file(invoice, "ubl")
