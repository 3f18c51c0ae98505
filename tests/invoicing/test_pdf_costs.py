"""What a render need not redo (issue 16): the invoice PDFs' one stylesheet and the Factur-X
schema are parsed once per process, the HTML WeasyPrint parses carries no `<style>` block and
no whitespace between tags, the user-agent stylesheet gives no element six pseudo-element styles,
an invoice without sub-agreements reads no agreement tree, and the garbage collector stops
scanning what the process held at its first render. Renders are real (WeasyPrint,
factur-x, lxml); nothing is timed."""

from __future__ import annotations

import gc
import re

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from lxml import etree
from weasyprint import HTML
from weasyprint.html import UA

from core import pdf as core_pdf
from core.errors import BillingError
from invoicing import pdf, services
from invoicing.einvoice import facturx
from invoicing.einvoice.cii import cii_xml
from invoicing.einvoice.document import credit_note_document
from invoicing.models import Invoice
from tests.factories import AgreementFactory, InvoiceFactory, InvoiceLineFactory
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


def test_the_lean_user_agent_sheet_drops_only_universal_pseudo_elements_and_changes_no_pdf(
    billing_admin, finance
):
    lean = core_pdf.lean_user_agent_css()
    dropped = [x for x in UA.splitlines() if x not in lean.splitlines()]
    assert dropped and all(x.startswith("::") for x in dropped)
    assert {x.split()[0] for x in dropped} == {
        "::marker",
        "::footnote-call",
        "::footnote-marker",
        "::note-call",
        "::note-marker",
        "::note-callback",
    }
    assert "li::marker {" in lean
    assert not [x for x in lean.splitlines() if x.startswith("::")]

    build_firm()
    services.invoice_run_generate(period=JAN)
    draft = Invoice.objects.get(po_number="PO-1")  # 2+ pages: lines, then the appendix
    final = approve(invoice=Invoice.objects.get(po_number="PO-2"), user=billing_admin)
    note = services.credit_note_create(invoice=final, amount="25.50", reason="Travel", user=finance)
    note_context = {
        **pdf.document_context(credit_note_document(note)),
        "firm": core_pdf.firm_letterhead(),
        "note": note,
        "invoice": final,
        "account": final.account,
    }
    for template, context, variant in [
        ("invoicing/pdf/invoice.html", pdf.invoice_context(draft), None),
        ("invoicing/pdf/invoice.html", pdf.invoice_context(final), facturx.PDF_VARIANT),
        ("invoicing/pdf/credit_note.html", note_context, facturx.PDF_VARIANT),
    ]:
        html = render_to_string(template, context)
        ours = core_pdf.html_to_pdf(html, pdf_variant=variant, stylesheets=pdf.STYLESHEETS)
        weasyprints = HTML(
            string=html,
            base_url=core_pdf.TEMPLATES_DIR.as_uri() + "/",
            url_fetcher=core_pdf.LocalOnlyFetcher(),
        ).write_pdf(
            pdf_variant=variant,
            font_config=core_pdf.font_config(),
            stylesheets=[core_pdf.stylesheet(*pdf.STYLESHEETS)],
        )
        # The same bytes as with WeasyPrint's own user-agent stylesheet.
        assert ours == weasyprints, (template, variant)


def test_an_invoice_without_sub_agreements_reads_no_agreement_tree():
    agreement = AgreementFactory()
    invoice = InvoiceFactory(account=agreement.account)
    for position in (1, 2):
        InvoiceLineFactory(invoice=invoice, agreement=agreement, position=position)
    with CaptureQueriesContext(connection) as queries:
        context = pdf.invoice_context(invoice)
    tables = [q["sql"].split(" FROM ")[1].split()[0] for q in queries.captured_queries]
    # The lines (with their agreement) once, shared with the document; the billed entries.
    assert tables == ['"invoicing_invoiceline"', '"invoicing_entrybilling"'], tables
    assert [(g.agreement, g.depth, len(g.lines)) for g in context["groups"]] == [(agreement, 0, 2)]

    child = AgreementFactory(account=agreement.account, parent=agreement)
    InvoiceLineFactory(invoice=invoice, agreement=child, position=3)
    with CaptureQueriesContext(connection) as queries:
        context = pdf.invoice_context(invoice)
    assert any('FROM "agreements_agreement"' in q["sql"] for q in queries.captured_queries)
    assert [(g.agreement, g.depth, g.parent_external_id) for g in context["groups"]] == [
        (agreement, 0, ""),
        (child, 1, agreement.external_id),
    ]


def test_the_first_render_of_a_process_freezes_what_it_holds_once(monkeypatch):
    monkeypatch.setattr(core_pdf, "_HEAP_FROZEN", [])  # as in a process that never rendered
    before = ["held before the first render"]
    assert any(o is before for o in gc.get_objects())
    core_pdf.html_to_pdf("<p>One</p>")
    # Frozen: still alive and tracked, but in no generation a collection scans.
    assert gc.is_tracked(before) and not any(o is before for o in gc.get_objects())
    assert gc.get_freeze_count() > 0
    after = ["made after it"]
    core_pdf.html_to_pdf("<p>Two</p>")
    assert any(o is after for o in gc.get_objects()), "a second render froze the heap again"
