"""What a render need not redo (issue 16): the invoice PDFs' one stylesheet and the Factur-X
schema are parsed once per process, and the HTML WeasyPrint parses carries no `<style>` block and
no whitespace between tags. Renders are real (WeasyPrint, factur-x, lxml); nothing is timed."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string
from lxml import etree

from core import pdf as core_pdf
from core.errors import BillingError
from invoicing import pdf, services
from invoicing.einvoice import facturx
from invoicing.einvoice.cii import cii_xml
from invoicing.models import Invoice
from tests.invoicing.helpers import JAN, approve, build_firm

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def isolated(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path


def test_the_stylesheet_is_parsed_once_and_the_html_has_no_style_block(monkeypatch):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-1")
    html = render_to_string("invoicing/pdf/invoice.html", pdf.invoice_context(invoice))
    assert "<style" not in html and " style=" not in html
    body = html[html.index("<body") : html.index("</body>")]
    assert not re.search(r">\s+<", body), "whitespace between tags reaches WeasyPrint"
    assert f'data-page-label="DRAFT #{invoice.pk}"' in html

    pdf.invoice_pdf(invoice)  # the first render of this process may parse it
    parsed: list[tuple[str, ...]] = []
    real_css = core_pdf.CSS

    def counting_css(*args, **kwargs):
        parsed.append(args)
        return real_css(*args, **kwargs)

    monkeypatch.setattr(core_pdf, "CSS", counting_css)
    first = core_pdf.stylesheet(*pdf.STYLESHEETS)
    pdf.invoice_pdf(invoice)
    pdf.invoice_pdf(invoice)
    assert parsed == [] and core_pdf.stylesheet(*pdf.STYLESHEETS) is first


def test_the_facturx_schema_is_parsed_once_and_refuses_an_xml_off_it(billing_admin):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-1")
    invoice = approve(invoice=invoice, user=billing_admin)
    doc = pdf.invoice_context(invoice)["doc"]
    good = cii_xml(doc)
    facturx.check_xsd(good, doc)
    assert facturx.schema() is facturx.schema()
    # The same XML with the document's mandatory ID removed is off the schema.
    root = etree.fromstring(good)
    (number,) = root.xpath("/*/*[local-name()='ExchangedDocument']/*[local-name()='ID']")
    number.getparent().remove(number)
    bad = etree.tostring(root)
    with pytest.raises(BillingError, match="not valid against the Factur-X en16931 schema"):
        facturx.check_xsd(bad, doc)
    with pytest.raises(BillingError, match="not well-formed"):
        facturx.check_xsd(good[:-20], doc)
