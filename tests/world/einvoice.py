"""Approved invoices and credit notes covering every shape of e-invoice we emit (issue 14):
several tax rates, zero-rated and reverse-charge lines, a prepaid block plus overage, milestones,
adjusted and added lines, minutes that are not whole 1/10,000 hours, EUR and USD, a buyer with
and without a VAT ID, partial and full credit notes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from invoicing import generation as gen
from invoicing.models import CreditNote, Invoice, InvoiceLine
from invoicing.services import credit_note_create
from tests.factories import AccountFactory, InvoiceFactory, InvoiceLineFactory
from tests.world.documents import approve

D = Decimal

TIME = InvoiceLine.Kind.TIME
BLOCK = InvoiceLine.Kind.BLOCK
MILESTONE = InvoiceLine.Kind.MILESTONE
ADJUSTMENT = InvoiceLine.Kind.ADJUSTMENT


def time_line(minutes: int, rate: str, **kw) -> dict:
    amount = gen.amount_for(minutes, D(rate))
    return {
        "kind": TIME,
        "minutes": minutes,
        "hours": gen.hours_from_minutes(minutes),
        "rate": D(rate),
        "amount": amount,
        "service_start": dt.date(2026, 1, 5),
        "service_end": dt.date(2026, 1, 28),
        **kw,
    }


def fixed_line(kind: str, amount: str, **kw) -> dict:
    return {"kind": kind, "minutes": None, "hours": None, "rate": None, "amount": D(amount), **kw}


def draft(account, lines: list[dict], currency: str = "EUR", **kw) -> Invoice:
    invoice = InvoiceFactory(account=account, currency=currency, **kw)
    for position, values in enumerate(lines, start=1):
        values = {"description": f"Line {position}", "tax_rate": D("0"), **values}
        InvoiceLineFactory(invoice=invoice, position=position, **values)
    totals = gen.compute_totals(
        gen.AmountLine(amount=x.amount, tax_rate=x.tax_rate) for x in invoice.lines.all()
    )
    invoice.net, invoice.tax, invoice.total = totals.net, totals.tax, totals.total
    invoice.save()
    return invoice


def eu_buyer(**kw):
    values = {
        "external_id": "ACC-DE",
        "name": "Bolt GmbH",
        "billing_email": "rechnung@bolt.example",
        "billing_address": "Hauptstrasse 5\nHaus B",
        "billing_city": "Berlin",
        "billing_postal_code": "10115",
        "billing_country": "DE",
        "buyer_vat_id": "DE123456789",
        "buyer_reference": "04011000-12345-34",
    }
    values.update(kw)
    return AccountFactory(**values)


def us_buyer():
    return AccountFactory(
        external_id="ACC-US",
        name="Acme Corp",
        billing_email="ap@acme.example",
        billing_address="500 Market St",
        billing_city="San Francisco",
        billing_postal_code="94105",
        billing_country="US",
    )


def two_rate_draft() -> Invoice:
    return draft(
        eu_buyer(),
        [
            time_line(600, "150.00", description="Support: Engineer", tax_rate=D("19")),
            fixed_line(MILESTONE, "800.00", description="Training", tax_rate=D("7")),
        ],
    )


def build(approver) -> dict[str, Invoice | CreditNote]:
    """Every kind of document, approved by `approver` (credit notes created by them too)."""
    de = eu_buyer()
    us = us_buyer()
    multi = draft(
        de,
        [
            time_line(855, "150.00", description="Website relaunch: Engineer", tax_rate=D("19")),
            fixed_line(MILESTONE, "1000.00", description="Training: workshop", tax_rate=D("7")),
            fixed_line(BLOCK, "300.00", description="Books", tax_category="Z"),
        ],
        po_number="PO-77",
        notes="Thank you for your business.",
    )
    reverse = draft(
        eu_buyer(
            external_id="ACC-AT",
            name="Alpen AG",
            buyer_vat_id="ATU12345678",
            billing_country="AT",
            billing_city="Wien",
            billing_postal_code="1010",
        ),
        [
            time_line(
                600,
                "120.00",
                description="Support: Engineer",
                tax_category="AE",
                tax_exemption_reason="Reverse charge (Art. 196 VAT Directive)",
            ),
            fixed_line(BLOCK, "50.00", description="Zero-rated item", tax_category="Z"),
        ],
    )
    prepaid = draft(
        de,
        [
            fixed_line(
                BLOCK, "2500.00", description="Support: prepaid block of 20 hours", tax_rate=D("19")
            ),
            time_line(
                135,
                "140.00",
                description="Support: Engineer, beyond the prepaid block",
                tax_rate=D("19"),
            ),
        ],
        period=dt.date(2026, 2, 1),
        invoice_date=dt.date(2026, 2, 28),
        due_date=dt.date(2026, 3, 30),
    )
    milestones = draft(
        de,
        [
            fixed_line(
                MILESTONE,
                "3333.33",
                description="ERP: milestone Design (33.333%)",
                tax_rate=D("19"),
                service_start=dt.date(2026, 1, 20),
                service_end=dt.date(2026, 1, 20),
            ),
            fixed_line(
                MILESTONE, "6666.67", description="ERP: milestone Build (66.667%)", tax_rate=D("19")
            ),
        ],
    )
    adjusted = draft(
        us,
        [
            time_line(
                855,
                "150.00",
                description="Audit: Engineer",
                tax_rate=D("8.25"),
                amount=D("2000.00"),
                priced_amount=D("2137.50"),
                adjustment_reason="Goodwill discount agreed with customer",
            ),
            time_line(50, "175.00", description="Audit: Project Manager", tax_rate=D("8.25")),
            fixed_line(
                MILESTONE,
                "600.00",
                description="Audit: report",
                tax_rate=D("8.25"),
                priced_amount=D("500.00"),
                adjustment_reason="Extra chapter, internal",
            ),
            fixed_line(
                ADJUSTMENT,
                "-50.00",
                description="Loyalty discount",
                tax_rate=D("8.25"),
                adjustment_reason="Sales asked for it",
            ),
        ],
        currency="USD",
    )
    out: dict[str, Invoice | CreditNote] = {}
    for name, invoice in [
        ("multi_rate", multi),
        ("reverse_charge", reverse),
        ("prepaid", prepaid),
        ("milestones", milestones),
        ("adjusted_usd", adjusted),
    ]:
        out[name] = approve(invoice=invoice, user=approver)
    out["credit_partial"] = credit_note_create(
        invoice=multi,
        amount="500.00",
        reason="Service credit",
        user=approver,
        date=dt.date(2026, 2, 10),
    )
    out["credit_full_usd"] = credit_note_create(
        invoice=adjusted,
        amount=str(adjusted.total),
        reason="Cancelled engagement",
        user=approver,
        date=dt.date(2026, 2, 12),
    )
    return out
