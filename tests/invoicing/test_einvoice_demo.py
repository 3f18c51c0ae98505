"""The seeded demo firm's e-invoices are valid (issue 14): the demo fills the buyer's CRM columns
(address, country, VAT ID, buyer reference) and the seller settings have defaults, so every
approved demo invoice and a credit note per currency pass the official EN 16931 rules in UBL,
CII and Factur-X with no fatal failure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from agreements.models import Account
from core.settlement import open_amount
from invoicing.einvoice import einvoice_file
from invoicing.models import CreditNote, Invoice
from invoicing.services import credit_note_create, invoice_pdf_store
from tests.invoicing.helpers import validate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_every_einvoice_of_the_seeded_demo_passes_en16931(tmp_path, finance):
    call_command("seed_demo", "--history-months", "1", stdout=open("/dev/null", "w"))
    # The buyer's columns came in through the agreement import.
    accounts = list(Account.objects.all())
    assert accounts and all(a.billing_country and a.billing_address for a in accounts)
    assert any(a.buyer_vat_id for a in accounts) and any(a.buyer_reference for a in accounts)

    invoices = list(Invoice.objects.filter(status__in=list(Invoice.FINAL_STATUSES)).order_by("id"))
    assert invoices
    for invoice in invoices:  # what the worker does after each approval
        invoice_pdf_store(invoice_id=invoice.pk)
    for currency in sorted({i.currency for i in invoices}):
        invoice = next(i for i in invoices if i.currency == currency and open_amount(i) > 0)
        credit_note_create(
            invoice=invoice,
            amount=(invoice.total / 4).quantize(Decimal("0.01")),
            reason="Goodwill",
            user=finance,
            date=invoice.invoice_date,
        )
    subjects: list[Invoice | CreditNote] = [
        *Invoice.objects.filter(pk__in=[i.pk for i in invoices]),
        *CreditNote.objects.all(),
    ]
    paths = []
    for subject in subjects:
        for fmt in ("ubl", "cii", "facturx"):
            file = einvoice_file(subject, fmt)
            path = tmp_path / file.filename
            path.write_bytes(file.content)
            paths.append(path)
    result = validate(paths)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "[fatal]" not in result.stdout
    assert len(paths) >= 3 * (len(invoices) + 1)
