"""A From date after To shows no rows and says why (issue 15), on the payments list too."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from receivables.services import payment_record
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def test_payments_from_after_to_shows_no_rows_and_says_so(client_for, finance):
    account = AccountFactory(external_id="ACME", name="Acme")
    payment = payment_record(
        account=account, date=dt.date(2026, 1, 10), amount=Decimal("9451.48"), currency="USD"
    )
    client = client_for(finance)
    url = reverse("receivables:payments")
    html = client.get(url, {"from": "2026-01-01", "to": "2026-01-31"}).content.decode()
    assert payment.external_id in html and "USD 9,451.48" in html
    html = client.get(url, {"from": "2026-02-01", "to": "2026-01-01"}).content.decode()
    assert payment.external_id not in html
    assert 'id="empty-range"' in html and "From is after To" in html
    assert "No payments match" not in html
