"""A credit note whose e-invoice could not be valid is refused at creation, naming what is missing,
as approval is (issue 14, SPEC 3.2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from core.errors import BillingError
from invoicing.models import CreditNote, Invoice
from invoicing.services import credit_note_create
from tests.invoicing.helpers import approve
from tests.world.einvoice import draft, eu_buyer, fixed_line, two_rate_draft

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# --- credit notes ------------------------------------------------------------------------------


def test_credit_note_refused_naming_the_missing_seller_vat_id(billing_admin, settings):
    invoice = approve(invoice=two_rate_draft(), user=billing_admin)
    # An invoice approved before parties were frozen reads them live: the VAT ID is gone now.
    Invoice.objects.filter(pk=invoice.pk).update(parties={})
    settings.BILLING_FIRM_VAT_ID = ""
    with pytest.raises(BillingError) as exc:
        credit_note_create(
            invoice=invoice, amount="100.00", reason="Service credit", user=billing_admin
        )
    message = str(exc.value)
    assert "e-invoice would be invalid" in message
    assert "BILLING_FIRM_VAT_ID is not set" in message and "BR-S-02" in message
    assert not CreditNote.objects.exists()
    # Nothing was numbered: the next credit note still gets the first number.
    settings.BILLING_FIRM_VAT_ID = "DE999999999"
    note = credit_note_create(
        invoice=invoice,
        amount="100.00",
        reason="Service credit",
        user=billing_admin,
        date=dt.date(2026, 2, 3),
    )
    assert note.number == "CN-2026-00001"


def test_credit_note_page_shows_the_refusal(billing_admin, finance, client_for, settings):
    invoice = approve(invoice=two_rate_draft(), user=billing_admin)
    Invoice.objects.filter(pk=invoice.pk).update(parties={})
    settings.BILLING_FIRM_VAT_ID = ""
    response = client_for(finance).post(
        f"/invoices/{invoice.pk}/credit-notes/",
        {"amount": "50.00", "reason": "Goodwill", "confirm": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"BILLING_FIRM_VAT_ID is not set" in response.content
    assert not CreditNote.objects.exists()


def test_credit_too_small_for_every_tax_category_is_refused(billing_admin):
    three = draft(
        eu_buyer(),
        [
            fixed_line("milestone", "1000.00", description="A", tax_rate=D("19")),
            fixed_line("milestone", "1000.00", description="B", tax_rate=D("7")),
            fixed_line("block", "1000.00", description="C", tax_category="Z"),
        ],
    )
    # 0.01 in proportion to three equal categories is 0.003 each: no line left.
    invoice = approve(invoice=three, user=billing_admin)
    with pytest.raises(BillingError, match=r"too small .* BR-16"):
        credit_note_create(invoice=invoice, amount="0.01", reason="Rounding", user=billing_admin)
    assert not CreditNote.objects.exists()


def test_api_credit_note_refusal_is_a_409_naming_the_field(billing_admin, finance, settings):
    invoice = approve(invoice=two_rate_draft(), user=billing_admin)
    Invoice.objects.filter(pk=invoice.pk).update(parties={})
    settings.BILLING_FIRM_COUNTRY = "Germany"
    api = APIClient()
    api.force_authenticate(finance)
    response = api.post(
        "/api/v1/credit-notes/",
        {"invoice": invoice.pk, "amount": "10.00", "reason": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert "BILLING_FIRM_COUNTRY must be an ISO 3166-1 alpha-2 code" in response.json()["detail"]
