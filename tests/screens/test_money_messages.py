"""Money in messages is shown the one way pages show it (issue 15 and 18): flash messages,
refusals, import notices and dispute thread messages print `USD 1,250.00` (core.money's
formatter, the templates' `money` filter), never `USD 1250.00` or a bare `1250.00`. Every amount
here passes a thousand, so a missing separator or currency shows."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import BillingError
from invoicing.services import credit_note_create
from portal.models import Contact
from receivables import disputes
from receivables.services import allocation_apply, payment_import
from tests.factories import AccountFactory, PaymentFactory
from tests.screens.test_money_format import money_problems
from tests.world import invoice_with_lines, portal_client

pytestmark = pytest.mark.django_db

D = Decimal
# An amount without the currency before it: "applied 1,500.00", "; 1,000.00 unapplied".
BARE = re.compile(r"(?<![A-Z]{3} )(?<![\d,.])\d{1,3}(,\d{3})*\.\d{2}\b")


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "5000.00"


def assert_one_way(text: str) -> None:
    assert money_problems(text) == [], text
    assert BARE.search(text) is None, text


def flashes(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def test_the_checks_find_amounts_printed_another_way():
    for text in ["Invoice has USD 1500.00 open", "applied 1,500.00 to INV-1", "1500.00"]:
        with pytest.raises(AssertionError):
            assert_one_way(text)
    assert_one_way("P-1: USD 2,500.00 applied USD 1,500.00 to INV-2026-00001 on 2026-03-01")


def test_flash_messages(billing_admin, finance, client_for):
    acc = AccountFactory()
    invoice = invoice_with_lines(acc, ["1500.00", "1000.00"])
    done = client_for(billing_admin).post(
        reverse("invoicing:credit_note", args=[invoice.pk]),
        {"amount": "1250.00", "reason": "Goodwill", "confirm": "1"},
    )
    [created] = flashes(done)
    assert created.endswith("created for USD 1,250.00.")
    assert_one_way(created)
    payment = PaymentFactory(account=acc, amount=D("2500.00"))  # unapplied
    applied = client_for(finance).post(
        reverse("receivables:payment_apply", args=[payment.pk]),
        {"invoice": invoice.pk, "amount": "1250.00"},
    )
    assert flashes(applied) == [f"Applied USD 1,250.00 to {invoice.number}."]


def test_refusals(finance):
    acc = AccountFactory()
    invoice = invoice_with_lines(acc, ["1500.00"])
    other = invoice_with_lines(acc, ["9000.00"])
    refusals = []
    with pytest.raises(BillingError) as credit:
        credit_note_create(invoice=invoice, amount=D("2000.00"), reason="x", user=finance)
    refusals.append(str(credit.value))
    payment = PaymentFactory(account=acc, amount=D("1200.00"))
    with pytest.raises(BillingError) as unapplied:
        allocation_apply(payment=payment, invoice=other, amount=D("1300.00"), user=finance)
    refusals.append(str(unapplied.value))
    big = PaymentFactory(account=acc, amount=D("9999.00"))
    with pytest.raises(BillingError) as open_:
        allocation_apply(payment=big, invoice=invoice, amount=D("1600.00"), user=finance)
    refusals.append(str(open_.value))
    dispute = disputes.dispute_open(
        invoice=invoice, category="overbilling", message="?", user=finance
    )
    with pytest.raises(BillingError) as dispute_credit:
        disputes.dispute_credit(dispute=dispute, amount=D("1600.00"), reason="x", user=finance)
    refusals.append(str(dispute_credit.value))
    assert [r.split(" has ", 1)[1] for r in refusals] == [
        "USD 1,500.00 open; cannot credit USD 2,000.00.",
        "only USD 1,200.00 unapplied.",
        "only USD 1,500.00 open.",
        "USD 1,500.00 open; cannot credit USD 1,600.00.",
    ]
    for text in refusals:
        assert_one_way(text)


def test_payment_import_notices(finance):
    acc = AccountFactory(external_id="ACME")
    invoice = invoice_with_lines(acc, ["1500.00"])
    result = payment_import(
        file=(
            "Payment ID,Date,Account ID,Amount,Currency,Reference\n"
            f"P-1,2026-03-01,ACME,2500.00,USD,{invoice.number}\n"
        ).encode(),
        user=finance,
    )
    assert result.notices[-1] == (
        f"P-1: USD 2,500.00 applied USD 1,500.00 to {invoice.number}; USD 1,000.00 unapplied"
    )
    for text in result.notices:
        assert_one_way(text)


def test_dispute_thread_messages_and_the_customer_sees_the_credit(finance, billing_admin):
    acc = AccountFactory()
    invoice = invoice_with_lines(acc, ["6000.00", "1500.00"])
    contact = Contact.objects.create(
        account=acc, email="ap@acme.example", invited_at=timezone.now()
    )
    dispute = disputes.dispute_open(
        invoice=invoice, category="overbilling", message="Too many hours", customer=contact.email
    )
    dispute = disputes.dispute_credit(
        dispute=dispute, amount=D("5500.00"), reason="x", user=finance
    )
    disputes.dispute_credit_decline(dispute=dispute, user=billing_admin, reason="Too much")
    dispute = disputes.dispute_credit(
        dispute=dispute, amount=D("1250.00"), reason="Outage", user=finance
    )
    bodies = list(dispute.messages.order_by("id").values_list("body", flat=True))
    note = dispute.credit_note.number
    assert bodies[1:] == [
        "Proposed credit of USD 5,500.00 declined: Too much",
        f"Credit note {note} for USD 1,250.00 issued.",
    ]
    for text in bodies:
        assert_one_way(text)
    page = portal_client(contact).get(reverse("portal:dispute", args=[dispute.pk]))
    html = page.content.decode()
    assert f"Credit note {note} for USD 1,250.00 issued." in html
    assert "declined" not in html  # the decline is an internal note
