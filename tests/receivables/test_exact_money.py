"""Issue 12: payments that split a total into awkward cents settle it exactly. On the old SQLite
demo, INV-2026-00050 (EUR 16,145.94 paid 12,955.47 + 3,190.47) stayed "partially paid" with
1.8e-12 open, was reminded at 60 days and listed as open next to unapplied cash."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from invoicing.models import Invoice
from receivables import selectors
from receivables.aging import aging_report
from receivables.dunning import dunning_run
from receivables.models import Reminder
from receivables.services import payment_record
from tests.factories import AccountFactory, InvoiceFactory

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

D = Decimal
DUE = dt.date(2026, 3, 2)
SPLITS = [
    # (net, tax, payments): total = net + tax exactly, the payments add up to it.
    ("13454.95", "2690.99", ["12955.47", "3190.47"]),
    ("100.00", "0.00", ["33.33", "33.33", "33.34"]),
    ("83.33", "16.67", ["33.34", "33.33", "33.33"]),
]


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]


@pytest.mark.django_db
@pytest.mark.parametrize(("net", "tax", "payments"), SPLITS)
def test_fully_paid_invoice_is_settled_exactly(net, tax, payments):
    account = AccountFactory(billing_email="ap@exact.example")
    invoice = InvoiceFactory(
        account=account,
        currency="EUR",
        status="sent",
        sent_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        number="INV-2026-00050",
        number_year=2026,
        number_seq=50,
        net=D(net),
        tax=D(tax),
        total=D(net) + D(tax),
        invoice_date=DUE - dt.timedelta(days=30),
        due_date=DUE,
    )
    paid = [
        payment_record(
            account=account,
            date=dt.date(2026, 3, 10 + n),
            amount=D(amount),
            currency="EUR",
            reference=f"INV-2026-00050 part {n + 1}",
        )
        for n, amount in enumerate(payments)
    ]

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    open_amount = selectors.invoice_open_amount(invoice)
    assert (open_amount, str(open_amount)) == (D("0.00"), "0.00")
    assert [str(selectors.payment_unapplied(p)) for p in paid] == ["0.00"] * len(payments)
    assert [a.amount for p in paid for a in p.allocations.all()] == [D(a) for a in payments]
    # Never listed as open, never under unapplied cash, no aging row.
    assert list(selectors.open_invoices(account=account, currency="EUR")) == []
    assert selectors.unapplied_cash() == []
    assert aging_report(as_of=dt.date(2026, 6, 1)).rows == []
    # Never reminded, at any level.
    for days in (7, 30, 61, 200):
        assert dunning_run(as_of=DUE + dt.timedelta(days=days)) == []
    assert Reminder.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_one_cent_short_stays_partially_paid_and_open():
    """The counter-case: the same split one cent short leaves exactly 0.01 open."""
    account = AccountFactory(billing_email="ap@exact.example")
    invoice = InvoiceFactory(
        account=account,
        currency="EUR",
        status="approved",
        number="INV-2026-00051",
        number_year=2026,
        number_seq=51,
        net=D("16145.94"),
        tax=D("0.00"),
        total=D("16145.94"),
        invoice_date=DUE - dt.timedelta(days=30),
        due_date=DUE,
        pdf=default_storage.save("invoices/INV-2026-00051.pdf", ContentFile(b"%PDF-1.4 x")),
        pdf_sha256=hashlib.sha256(b"%PDF-1.4 x").hexdigest(),
    )
    for n, amount in enumerate(["12955.47", "3190.46"]):
        payment_record(
            account=account, date=dt.date(2026, 3, 10 + n), amount=D(amount), currency="EUR"
        )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PARTIALLY_PAID
    assert str(selectors.invoice_open_amount(invoice)) == "0.01"
    assert [i.number for i in selectors.open_invoices(account=account, currency="EUR")] == [
        "INV-2026-00051"
    ]
    assert [(r.level, r.status) for r in dunning_run(as_of=DUE + dt.timedelta(days=61))] == [
        (7, "superseded"),
        (30, "superseded"),
        (60, "sent"),
    ]
