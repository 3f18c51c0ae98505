"""E-invoice delivery (SPEC 3.2, 5): downloads on the invoice page and the API, the
export_einvoice command, the invoice e-mail's attachments; and a property that the XML totals
are the invoice's net, tax and total."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from lxml import etree
from pypdf import PdfReader
from rest_framework.test import APIClient

from agreements.models import Account
from invoicing import generation as gen
from invoicing.einvoice import einvoice_file
from invoicing.einvoice.cii import cii_xml
from invoicing.einvoice.document import invoice_document
from invoicing.einvoice.ubl import ubl_xml
from invoicing.models import Invoice, InvoiceLine
from invoicing.services import invoice_send
from tests.world.einvoice import build, draft, eu_buyer, time_line

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

D = Decimal


@pytest.fixture
def world(billing_admin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return build(billing_admin)


@pytest.mark.django_db
def test_invoice_page_links_and_serves_every_format(world, client_for, auditor):
    invoice = world["multi_rate"]
    client = client_for(auditor)
    page = client.get(f"/invoices/{invoice.pk}/").content.decode()
    for fmt in ("facturx", "ubl", "cii"):
        assert f'href="/invoices/{invoice.pk}/einvoice/{fmt}/"' in page
    ubl = client.get(f"/invoices/{invoice.pk}/einvoice/ubl/")
    assert ubl.status_code == 200 and ubl["Content-Type"] == "application/xml"
    assert ubl["Content-Disposition"] == 'attachment; filename="INV-2026-00001.ubl.xml"'
    assert ubl.content == einvoice_file(invoice, "ubl").content
    pdf = client.get(f"/invoices/{invoice.pk}/einvoice/facturx/")
    assert (
        "factur-x.xml"
        in PdfReader(
            io.BytesIO(b"".join(pdf.streaming_content if pdf.streaming else [pdf.content]))
        ).attachments
    )
    assert client.get(f"/invoices/{invoice.pk}/einvoice/pdf2/").status_code == 404
    note = world["credit_partial"]
    cii = client.get(f"/invoices/credit-notes/{note.pk}/einvoice/cii/")
    assert cii.status_code == 200 and b"<ram:TypeCode>381</ram:TypeCode>" in cii.content


@pytest.mark.django_db
def test_a_drafts_einvoice_is_not_found(client_for, auditor, settings, tmp_path):
    invoice = draft(eu_buyer(), [time_line(60, "100.00", tax_rate=D("19"))])
    assert client_for(auditor).get(f"/invoices/{invoice.pk}/einvoice/ubl/").status_code == 404


@pytest.mark.django_db
def test_api_downloads(world, auditor):
    api = APIClient()
    api.force_authenticate(auditor)
    invoice = world["adjusted_usd"]
    response = api.get(f"/api/v1/invoices/{invoice.pk}/einvoice/cii/")
    assert response.status_code == 200
    assert response.content == einvoice_file(invoice, "cii").content
    note = world["credit_full_usd"]
    response = api.get(f"/api/v1/credit-notes/{note.pk}/einvoice/ubl/")
    assert response.status_code == 200 and b"<CreditNote" in response.content


@pytest.mark.django_db
def test_export_einvoice_command(world, tmp_path):
    invoice = world["prepaid"]
    out = tmp_path / "inv.xml"
    call_command(
        "export_einvoice", "--id", str(invoice.pk), "--format", "ubl", "--output", str(out)
    )
    assert out.read_bytes() == einvoice_file(invoice, "ubl").content
    note = world["credit_partial"]
    call_command(
        "export_einvoice", "--credit-note", note.number, "--format", "facturx", "--output", str(out)
    )
    assert "factur-x.xml" in PdfReader(str(out)).attachments
    with pytest.raises(CommandError) as exc:
        call_command("export_einvoice", "--id", "999999", "--format", "cii", "--output", str(out))
    assert (str(exc.value), exc.value.returncode) == ("no invoice 999999", 1)


@pytest.mark.django_db
def test_invoice_mail_carries_the_facturx_and_per_account_the_ubl(
    world, billing_admin, django_capture_on_commit_callbacks
):
    invoice = world["multi_rate"]
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice, user=billing_admin)
    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == ["INV-2026-00001.pdf"]
    assert "factur-x.xml" in PdfReader(io.BytesIO(message.attachments[0][1])).attachments
    Account.objects.filter(pk=invoice.account_id).update(einvoice_ubl_by_email=True)
    invoice.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice, user=billing_admin)
    assert [a[0] for a in mail.outbox[1].attachments] == [
        "INV-2026-00001.pdf",
        "INV-2026-00001.ubl.xml",
    ]


RATES = [D("0"), D("7"), D("8.25"), D("8.875"), D("19")]
line_strategy = st.tuples(
    st.sampled_from(["time", "fixed"]),
    st.integers(min_value=1, max_value=20_000),  # minutes, or cents for a fixed line
    st.sampled_from(RATES),
    st.integers(min_value=-30_000, max_value=30_000),  # cents of an adjustment, 0 = none
)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(line_strategy, min_size=1, max_size=8))
def test_xml_totals_equal_the_invoice_totals(specs):
    account = Account(external_id="ACC-P", name="Prop Ltd", billing_country="DE")
    invoice = Invoice(
        pk=1,
        account=account,
        currency="EUR",
        period=dt.date(2026, 1, 1),
        invoice_date=dt.date(2026, 1, 31),
        due_date=dt.date(2026, 3, 2),
        number="INV-2026-00001",
        status="approved",
    )
    rows = []
    for kind, size, rate, change in specs:
        if kind == "time":
            priced = gen.amount_for(size, D("137.50"))
            line = InvoiceLine(
                kind="time", minutes=size, rate=D("137.50"), amount=priced, tax_rate=rate
            )
        else:
            priced = D(size) / 100
            line = InvoiceLine(kind="milestone", amount=priced, tax_rate=rate)
        line.description = "x"
        if change:
            line.priced_amount, line.amount = priced, priced + D(change) / 100
        rows.append(line)
    totals = gen.compute_totals(gen.AmountLine(amount=x.amount, tax_rate=x.tax_rate) for x in rows)
    doc = invoice_document(invoice, rows)
    ns = {
        "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    }
    cii = etree.fromstring(cii_xml(doc))
    s = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert D(cii.findtext(s + "TaxBasisTotalAmount", namespaces=ns)) == totals.net
    assert D(cii.findtext(s + "TaxTotalAmount", namespaces=ns)) == totals.tax
    assert D(cii.findtext(s + "GrandTotalAmount", namespaces=ns)) == totals.total
    ubl = etree.fromstring(ubl_xml(doc))
    u = {
        "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    }
    assert (
        D(ubl.findtext("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount", namespaces=u)) == totals.net
    )
    assert D(ubl.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=u)) == totals.tax
    assert D(ubl.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=u)) == totals.total
    # Line sums are the document's net (BR-CO-10).
    nets = [D(x) for x in cii.xpath("//ram:LineTotalAmount/text()", namespaces=ns)]
    assert sum(nets[:-1]) == totals.net
