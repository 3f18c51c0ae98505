"""Record a payment by hand: customer picker, the customer's currencies, the open invoices as a
checklist paid first, and a likely duplicate (same customer, amount, date) asked about first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from receivables.models import Payment
from receivables.services import payment_record
from tests.factories import AccountFactory, AgreementFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
URL = reverse("receivables:payment_new")
TODAY = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def acme():
    account = AccountFactory(external_id="ACME", name="Acme Corp")
    AgreementFactory(account=account, currency="EUR")
    return account


@pytest.fixture
def invoices(acme):
    return {
        "old": final_invoice(acme, "400.00", due=dt.date(2026, 2, 1), seq=11),
        "new": final_invoice(acme, "300.00", due=dt.date(2026, 3, 1), seq=12),
        "eur": final_invoice(acme, "200.00", due=dt.date(2026, 2, 15), seq=13, currency="EUR"),
        "disputed": final_invoice(acme, "50.00", due=dt.date(2026, 1, 1), seq=14, disputed=True),
        "paid_later": final_invoice(
            acme, "70.00", due=dt.date(2026, 6, 1), seq=15, invoice_date=dt.date(2026, 5, 1)
        ),
    }


def _post(client, **fields):
    data = {"account": "ACME", "date": "2026-04-10", "amount": "300.00", "currency": "USD"}
    data.update(fields)
    return client.post(URL, data)


def test_picker_lists_customers_and_the_chosen_ones_currencies_and_open_invoices(
    client_for, finance, acme, invoices
):
    AccountFactory(external_id="BETA", name="Beta <Ltd>")
    client = client_for(finance)
    html = client.get(URL).content.decode()
    assert '<datalist id="accounts">' in html
    assert '<option value="ACME">Acme Corp</option>' in html
    assert '<option value="BETA">Beta &lt;Ltd&gt;</option>' in html
    assert 'id="invoice-checklist"' not in html  # no customer chosen yet

    part = client.get(URL, {"part": "account", "account": "ACME"}).content.decode()
    assert "<html" not in part
    # Currencies: the agreement's EUR and the invoices' USD, nothing else.
    assert '<option value="EUR">EUR</option>' in part
    assert '<option value="USD" selected>USD</option>' in part
    assert part.count("<option") == 2
    # Open invoices a payment today can pay: not the disputed one, not the one dated in May.
    shown = [n for n in ("00011", "00012", "00013", "00014", "00015") if f"INV-2026-{n}<" in part]
    rows = sorted(shown, key=lambda n: part.index(f"INV-2026-{n}<"))
    assert rows == ["00013", "00011", "00012"]  # by currency, then oldest due
    assert "EUR 200.00" in part and "USD 400.00" in part
    assert "overdue" in part

    # Without script: the same page for the chosen customer keeps what was typed.
    full = client.get(URL, {"account": "Acme Corp", "amount": "12.50"}).content.decode()
    assert 'value="12.50"' in full and 'id="invoice-checklist"' in full


def test_ticked_invoice_is_paid_first_and_named_in_the_reference(
    client_for, finance, acme, invoices
):
    response = _post(
        client_for(finance), amount="350.00", reference="remit 42", invoices=[invoices["new"].pk]
    )
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert payment.reference == "INV-2026-00012 remit 42"
    shares = {a.invoice.number: a.amount for a in payment.allocations.select_related("invoice")}
    # The ticked invoice in full, the rest to the oldest due one (SPEC 4).
    assert shares == {"INV-2026-00012": D("300.00"), "INV-2026-00011": D("50.00")}
    assert payment.history.get().history_user == finance


def test_reference_already_naming_the_ticked_invoice_is_kept(client_for, finance, acme, invoices):
    _post(client_for(finance), reference="for inv-2026-00012", invoices=[invoices["new"].pk])
    assert Payment.objects.get().reference == "for inv-2026-00012"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"currency": "GBP"}, "Select a valid choice. GBP is not one of the available choices."),
        ({"invoices": "eur"}, "INV-2026-00013 is not in USD"),
        ({"invoices": "disputed"}, "is not one of the available choices"),
        ({"account": "NOPE"}, "No account with ID or name"),
        ({"date": "2026-04-16"}, "a payment cannot be dated in the future"),
        ({"amount": "0"}, "greater than or equal to 0.01"),
    ],
)
def test_refusals_write_nothing(client_for, finance, acme, invoices, fields, message):
    if fields.get("invoices") in invoices:
        fields = fields | {"invoices": [invoices[fields["invoices"]].pk]}
    response = _post(client_for(finance), **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Payment.objects.count() == 0


def test_likely_duplicate_is_shown_and_recorded_only_when_confirmed(
    client_for, finance, acme, invoices
):
    first = payment_record(
        account=acme, date=dt.date(2026, 4, 10), amount=D("300.00"), currency="USD", user=finance
    )
    client = client_for(finance)
    response = _post(client, reference="second try")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="duplicate-warning"' in html
    assert first.external_id in html and "USD 300.00" in html and "2026-04-10" in html
    assert 'value="second try"' in html  # what was typed is kept for the confirmation
    assert Payment.objects.count() == 1

    # Another day, amount or currency is not a duplicate.
    assert _post(client, amount="300.01").status_code == 302
    assert Payment.objects.count() == 2

    confirmed = _post(client, reference="second try", confirm_duplicate="1")
    assert confirmed.status_code == 302
    assert Payment.objects.filter(reference="second try").count() == 1


def test_customer_without_any_currency_takes_any_iso_code(client_for, finance):
    AccountFactory(external_id="NEW", name="New Co")
    client = client_for(finance)
    part = client.get(URL, {"part": "account", "account": "NEW"}).content.decode()
    assert 'name="currency"' in part and "<select" not in part
    assert "no open invoice" in part
    response = _post(client, account="NEW", currency="chf")
    assert response.status_code == 302
    assert Payment.objects.get().currency == "CHF"


def test_other_roles_cannot_open_or_post_the_form(
    client_for, billing_admin, services_manager, auditor, acme
):
    for user in (billing_admin, services_manager, auditor):
        client = client_for(user)
        assert client.get(URL).status_code == 403
        assert client.get(URL, {"part": "account", "account": "ACME"}).status_code == 403
        assert _post(client).status_code == 403
    assert Payment.objects.count() == 0
