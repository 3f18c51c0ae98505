"""Invoice content that the customer reads (SPEC 3.1, issue 14): customer-facing descriptions,
service periods, VAT categories, added lines at the invoice's tax rate, adjusted lines keeping
their priced amount."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import BillingError
from invoicing import generation as gen
from invoicing.models import Invoice, InvoiceLine
from invoicing.services import invoice_line_add, invoice_line_adjust
from tests.factories import InvoiceFactory, InvoiceLineFactory

D = Decimal


def terms(**kw) -> gen.AgreementTerms:
    base = {
        "agreement_id": 1,
        "external_id": "AGR-1",
        "project_code": "PRJ-UX1",
        "agreement_type": gen.TIME_AND_MATERIALS,
        "hourly_rate": D("150"),
        "tax_rate": D("19"),
    }
    base.update(kw)
    return gen.AgreementTerms(**base)


def entry(n: int, day: int, role: str = "Engineer") -> gen.EntryIn:
    return gen.EntryIn(
        entry_id=n,
        external_id=str(n),
        date=dt.date(2026, 1, day),
        agreement_id=1,
        role=role,
        duration_ms=3_600_000,
    )


def test_time_line_reads_the_agreement_name_and_carries_period_and_vat_category():
    priced = gen.price_invoice(
        period_end=dt.date(2026, 1, 31),
        terms={1: terms(name="Website relaunch")},
        entries=[entry(1, 12), entry(2, 5), entry(3, 20)],
    )
    (line,) = priced.lines
    assert line.description == "Website relaunch: Professional services"
    assert "PRJ-UX1" not in line.description
    assert (line.service_start, line.service_end) == (dt.date(2026, 1, 5), dt.date(2026, 1, 20))
    assert (line.tax_category, line.tax_exemption_reason) == ("S", "")


def test_without_a_name_the_project_code_is_the_name_and_zero_rate_is_category_z():
    priced = gen.price_invoice(
        period_end=dt.date(2026, 1, 31),
        terms={1: terms(tax_rate=D("0"))},
        entries=[entry(1, 12)],
    )
    assert priced.lines[0].description == "PRJ-UX1: Professional services"
    assert priced.lines[0].tax_category == "Z"


def test_reverse_charge_terms_reach_the_line():
    priced = gen.price_invoice(
        period_end=dt.date(2026, 1, 31),
        terms={1: terms(tax_rate=D("0"), tax_category="AE", tax_exemption_reason="Reverse charge")},
        entries=[entry(1, 12)],
    )
    assert (priced.lines[0].tax_category, priced.lines[0].tax_exemption_reason) == (
        "AE",
        "Reverse charge",
    )


@pytest.mark.django_db
def test_added_line_defaults_to_the_invoices_tax_rate(billing_admin):
    invoice = InvoiceFactory(net=D("412.60"), tax=D("34.04"), total=D("446.64"))
    InvoiceLineFactory(invoice=invoice, amount=D("412.60"), tax_rate=D("8.25"))
    line = invoice_line_add(
        invoice=invoice, user=billing_admin, reason="travel", description="Travel", amount="100"
    )
    assert (line.tax_rate, line.tax_category) == (D("8.250"), "S")
    invoice.refresh_from_db()
    assert (invoice.net, invoice.tax, invoice.total) == (D("512.60"), D("42.29"), D("554.89"))


@pytest.mark.django_db
def test_added_line_on_an_invoice_with_several_rates_needs_a_rate(billing_admin):
    invoice = InvoiceFactory()
    InvoiceLineFactory(invoice=invoice, amount=D("500.00"), tax_rate=D("19"))
    InvoiceLineFactory(invoice=invoice, amount=D("500.00"), tax_rate=D("7"))
    with pytest.raises(BillingError) as exc:
        invoice_line_add(
            invoice=invoice, user=billing_admin, reason="x", description="Travel", amount="10"
        )
    assert str(exc.value) == "This invoice has several tax rates (7%, 19%); give the tax rate."
    assert invoice.lines.count() == 2
    line = invoice_line_add(
        invoice=invoice,
        user=billing_admin,
        reason="x",
        description="Travel",
        amount="10",
        tax_rate="7",
    )
    assert (line.tax_rate, line.tax_category) == (D("7"), "S")


@pytest.mark.django_db
def test_adjusting_a_priced_line_keeps_its_priced_amount(billing_admin):
    invoice = InvoiceFactory()
    line = InvoiceLineFactory(
        invoice=invoice, minutes=855, hours=D("14.25"), rate=D("150.00"), amount=D("2137.50")
    )
    invoice_line_adjust(line=line, user=billing_admin, reason="Goodwill", amount="2000.00")
    line.refresh_from_db()
    assert (line.amount, line.priced_amount) == (D("2000.00"), D("2137.50"))
    # A second adjustment still measures from the priced amount; back to it clears it.
    invoice_line_adjust(line=line, user=billing_admin, reason="again", amount="1900.00")
    line.refresh_from_db()
    assert (line.amount, line.priced_amount) == (D("1900.00"), D("2137.50"))
    invoice_line_adjust(line=line, user=billing_admin, reason="undo", amount="2137.50")
    line.refresh_from_db()
    assert (line.amount, line.priced_amount) == (D("2137.50"), None)
    assert Invoice.objects.get(pk=invoice.pk).net == D("2137.50")
    assert InvoiceLine.objects.get(pk=line.pk).adjustment_reason == "undo"
