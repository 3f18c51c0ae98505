"""While the final PDF of an approved invoice renders, its UBL and CII are served and the
Factur-X answers 'being rendered, try again in a moment' (page and API: 503 with Retry-After),
then the stored final PDF (issue 14, SPEC 3.2)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from rest_framework.test import APIClient

from invoicing.services import invoice_approve, invoice_pdf_store
from tests.world.einvoice import two_rate_draft

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_einvoices_while_the_final_pdf_renders(billing_admin, auditor, client_for):
    invoice = two_rate_draft()
    # Approved, the render not run yet (the worker has not picked it up).
    invoice = invoice_approve(invoice=invoice, user=billing_admin, version=invoice.version)
    assert invoice.pdf_status == "rendering"
    client = client_for(auditor)
    api = APIClient()
    api.force_authenticate(auditor)
    for fmt in ("ubl", "cii"):
        page = client.get(f"/invoices/{invoice.pk}/einvoice/{fmt}/")
        assert page.status_code == 200 and page["Content-Type"] == "application/xml"
        assert api.get(f"/api/v1/invoices/{invoice.pk}/einvoice/{fmt}/").status_code == 200

    page = client.get(f"/invoices/{invoice.pk}/einvoice/facturx/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    text = page.content.decode()
    assert f"The Factur-X PDF of {invoice.number} is being rendered; try again in a moment" in text
    response = api.get(f"/api/v1/invoices/{invoice.pk}/einvoice/facturx/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert "is being rendered; try again in a moment" in response.json()["detail"]

    invoice_pdf_store(invoice_id=invoice.pk)  # what the worker does
    page = client.get(f"/invoices/{invoice.pk}/einvoice/facturx/")
    assert page.status_code == 200
    body = b"".join(page.streaming_content) if page.streaming else page.content
    assert "factur-x.xml" in PdfReader(io.BytesIO(body)).attachments
    invoice.refresh_from_db()
    with invoice.pdf.open("rb") as fh:
        assert body == fh.read()  # the stored final PDF, not a second rendering
