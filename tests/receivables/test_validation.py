"""SPEC 4: a payment dated after today (firm time zone) or in a currency outside ISO 4217 is
refused through every door (import, API, page, service), readably and with nothing written; no
allocation is ever dated in the future."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import BillingError
from invoicing.models import Invoice
from receivables.models import Allocation, Payment
from receivables.services import allocation_apply, payment_import, payment_record
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
HEADER = "Payment ID,Date,Account ID,Amount,Currency,Reference,Method\n"
# 12:00 UTC on 15 April is already 00:00 on 16 April in Auckland.
NOON_UTC = dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(NOON_UTC, tick=False):
        yield


@pytest.fixture
def acme():
    return AccountFactory(external_id="ACME", name="Acme")


def _nothing_written():
    assert Payment.objects.count() == 0
    assert Allocation.objects.count() == 0


def test_import_refuses_a_future_date_in_the_firm_time_zone(acme, settings):
    final_invoice(acme, "100.00", due=dt.date(2026, 4, 1))
    text = HEADER + "P-1,2026-04-15,ACME,10.00,USD,,\nP-2,2026-04-16,ACME,10.00,USD,,\n"
    result = payment_import(file=text.encode())
    assert [str(e) for e in result.errors] == [
        "line 3: Date: is after today (2026-04-16 > 2026-04-15); "
        "a payment cannot be dated in the future"
    ]
    _nothing_written()
    settings.BILLING_TIME_ZONE = "Pacific/Auckland"
    assert payment_import(file=text.encode()).as_dict() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }


def test_import_refuses_a_currency_outside_iso_4217(acme):
    result = payment_import(file=(HEADER + "P-1,2026-04-01,ACME,10.00,ZZZ,,\n").encode())
    assert [str(e) for e in result.errors] == [
        "line 2: Currency: is not an ISO 4217 currency code, got 'ZZZ'"
    ]
    _nothing_written()


@pytest.mark.parametrize(
    ("date", "currency", "message"),
    [
        (
            dt.date(2026, 4, 16),
            "USD",
            "Date is after today (2026-04-16 > 2026-04-15); a payment cannot be dated in the future.",
        ),
        (dt.date(2026, 4, 1), "ZZZ", "Currency is not an ISO 4217 currency code, got 'ZZZ'."),
    ],
)
def test_service_refuses(acme, date, currency, message):
    with pytest.raises(BillingError) as info:
        payment_record(account=acme, date=date, amount=D("5.00"), currency=currency)
    assert str(info.value) == message
    _nothing_written()


def test_api_refuses_zzz_and_future_dates_as_field_errors(acme, finance):
    final_invoice(acme, "100.00", due=dt.date(2026, 4, 1))
    client = APIClient()
    client.force_authenticate(finance)
    response = client.post(
        "/api/v1/payments/",
        {"account_id": "ACME", "date": "2026-04-16", "amount": "10.00", "currency": "ZZZ"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "date": ["Date is after today (2026-04-16 > 2026-04-15); a payment cannot be dated "
                 "in the future."],
        "currency": ["Currency is not an ISO 4217 currency code, got 'ZZZ'."],
    }  # fmt: skip
    _nothing_written()
    ok = client.post(
        "/api/v1/payments/",
        {"account_id": "ACME", "date": "2026-04-15", "amount": "10.00", "currency": "eur"},
        format="json",
    )
    assert (ok.status_code, ok.json()["currency"]) == (201, "EUR")


def test_record_payment_page_shows_the_errors_and_writes_nothing(acme, client_for, finance):
    response = client_for(finance).post(
        reverse("receivables:payment_new"),
        {"account": "ACME", "date": "2026-04-16", "amount": "10.00", "currency": "ZZZ"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "a payment cannot be dated in the future" in text
    assert "is not an ISO 4217 currency code, got &#x27;ZZZ&#x27;" in text
    _nothing_written()


def test_allocation_never_dated_in_the_future(acme, finance):
    # An invoice dated after today (only possible by hand) is not paid automatically nor by hand.
    future = final_invoice(
        acme, "100.00", due=dt.date(2026, 5, 31), invoice_date=dt.date(2026, 4, 30)
    )
    payment = payment_record(
        account=acme, date=dt.date(2026, 4, 10), amount=D("60.00"), currency="USD"
    )
    assert payment.allocations.count() == 0
    with pytest.raises(BillingError) as info:
        allocation_apply(payment=payment, invoice=future, amount=D("10.00"), user=finance)
    assert str(info.value) == (
        f"Invoice {future} is dated 2026-04-30, after today; it cannot be paid before its date."
    )
    assert Allocation.objects.count() == 0
    assert Invoice.objects.get(pk=future.pk).status == "approved"
