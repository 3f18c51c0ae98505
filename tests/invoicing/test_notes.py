"""Notes and payment terms of a draft (issue 14, SPEC 3.1): a billing admin edits them on the
draft's page; the change is in history with its user and bumps the version; they are printed
on the PDF and sent in the e-invoices as the invoice note (BT-22) and payment terms (BT-20)."""

from __future__ import annotations

import subprocess
from decimal import Decimal

import pytest
from lxml import etree

from core.errors import BillingError
from invoicing.einvoice import einvoice_file
from invoicing.einvoice.cii import RAM
from invoicing.einvoice.ubl import CBC
from invoicing.models import Invoice
from invoicing.pdf import invoice_pdf
from invoicing.services import invoice_notes_set
from tests.invoicing.helpers import approve, validate
from tests.world.einvoice import draft, eu_buyer, time_line

pytestmark = pytest.mark.django_db
D = Decimal
NOTE = "Thank you for the relaunch project. Questions: billing@firm.example"
TERMS = "Net 14 days; 2% early-payment discount within 7 days."


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def invoice():
    return draft(eu_buyer(), [time_line(600, "150.00", description="Relaunch: Engineer")])


def pdftotext(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def test_billing_admin_edits_notes_on_the_draft_page(invoice, client_for, billing_admin):
    client = client_for(billing_admin)
    page = client.get(f"/invoices/{invoice.pk}/")
    assert b'id="notes-form"' in page.content
    response = client.post(
        f"/invoices/{invoice.pk}/notes/", {"notes": NOTE, "terms": TERMS}, follow=True
    )
    assert b"Notes and payment terms saved." in response.content
    invoice.refresh_from_db()
    assert (invoice.notes, invoice.terms) == (NOTE, TERMS)
    assert invoice.version == 2
    last = invoice.history.latest()
    assert last.history_user == billing_admin
    assert last.notes == NOTE and last.terms == TERMS
    # Not an adjustment: its author may still approve (the version is what counts).
    done = approve(invoice=invoice, user=billing_admin)
    assert done.status == Invoice.Status.APPROVED


@pytest.mark.parametrize("role", ["finance", "auditor", "services_manager"])
def test_other_roles_cannot_edit_notes(invoice, client_for, role, request):
    user = request.getfixturevalue(role)
    response = client_for(user).post(f"/invoices/{invoice.pk}/notes/", {"notes": "x"})
    assert response.status_code == 403
    invoice.refresh_from_db()
    assert invoice.notes == "" and invoice.version == 1


def test_approval_of_the_version_before_the_edit_is_refused(invoice, billing_admin):
    from invoicing.services import invoice_approve

    seen = invoice.version
    invoice_notes_set(invoice=invoice, user=billing_admin, notes=NOTE, terms="")
    with pytest.raises(BillingError, match="changed since you opened it"):
        invoice_approve(invoice=invoice, user=billing_admin, version=seen)


def test_an_approved_invoices_notes_cannot_change(invoice, billing_admin, client_for):
    done = approve(invoice=invoice, user=billing_admin)
    with pytest.raises(BillingError, match="only a draft can be edited"):
        invoice_notes_set(invoice=done, user=billing_admin, notes="late", terms="")
    response = client_for(billing_admin).post(
        f"/invoices/{done.pk}/notes/", {"notes": "late"}, follow=True
    )
    assert b"only a draft can be edited" in response.content
    done.refresh_from_db()
    assert done.notes == ""


def test_too_long_notes_are_refused(invoice, billing_admin):
    with pytest.raises(BillingError, match="longer than 2000"):
        invoice_notes_set(invoice=invoice, user=billing_admin, notes="n" * 2001, terms="")


def test_notes_and_terms_are_printed_and_sent_in_valid_einvoices(invoice, billing_admin, tmp_path):
    invoice_notes_set(invoice=invoice, user=billing_admin, notes=NOTE, terms=TERMS)
    preview = pdftotext(invoice_pdf(Invoice.objects.get(pk=invoice.pk)))
    assert NOTE in preview and TERMS in preview
    done = approve(invoice=invoice, user=billing_admin)
    with done.pdf.open("rb") as fh:
        final = pdftotext(fh.read())
    assert NOTE in final and TERMS in final

    ubl = etree.fromstring(einvoice_file(done, "ubl").content)
    cac = ubl.nsmap["cac"]
    assert [n.text for n in ubl.findall(f"{{{CBC}}}Note")] == [NOTE]
    assert ubl.findtext(f"{{{cac}}}PaymentTerms/{{{CBC}}}Note") == TERMS
    cii = etree.fromstring(einvoice_file(done, "cii").content)
    ns = {"ram": RAM}
    assert cii.xpath("//ram:IncludedNote/ram:Content/text()", namespaces=ns) == [NOTE]
    terms = "//ram:SpecifiedTradePaymentTerms/ram:Description/text()"
    assert cii.xpath(terms, namespaces=ns) == [TERMS]

    paths = []
    for fmt in ("ubl", "cii", "facturx"):
        file = einvoice_file(done, fmt)
        path = tmp_path / file.filename
        path.write_bytes(file.content)
        paths.append(path)
    result = validate(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[fatal]" not in result.stdout
