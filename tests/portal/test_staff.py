"""Staff side of the portal: contacts page (invite, revoke, entries option) and the contacts API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.tokens import token_create
from portal.models import Contact, PortalAccount, SignInLink
from tests.factories import AccountFactory

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")
    return client


@pytest.mark.django_db
def test_contacts_page_invites_revokes_and_sets_options(billing_admin, auditor, client_for):
    acc = AccountFactory(external_id="ACC-P", name="Portal Co")
    client = client_for(billing_admin)
    client.post("/contacts/invite/", {"account": "ACC-P", "email": "Ann@Portal.Example"})
    contact = Contact.objects.get()
    assert (contact.account, contact.email, contact.invited_by) == (
        acc,
        "ann@portal.example",
        billing_admin,
    )
    assert SignInLink.objects.filter(contact=contact).count() == 1
    refused = client.post("/contacts/invite/", {"account": "NOPE", "email": "x@y.example"})
    assert [str(m) for m in refused.wsgi_request._messages][-1] == "No account with ID 'NOPE'."
    assert Contact.objects.count() == 1
    client.post(f"/contacts/accounts/{acc.pk}/options/", {"show_entries": "1"})
    assert PortalAccount.objects.get(account=acc).show_entries is True
    page = client_for(auditor).get("/contacts/").content.decode()
    assert "ann@portal.example" in page and "Revoke" not in page
    client.post(f"/contacts/{contact.pk}/revoke/")
    contact.refresh_from_db()
    assert (contact.revoked_by, contact.is_active) == (billing_admin, False)


@pytest.mark.django_db
def test_contacts_api(finance, auditor):
    AccountFactory(external_id="ACC-Q")
    created = api(finance).post(
        "/api/v1/contacts/", {"account_id": "ACC-Q", "email": "bo@q.example"}, format="json"
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["account_id"], body["email"], body["active"], body["invited_by"]) == (
        "ACC-Q",
        "bo@q.example",
        True,
        "fiona.finance",
    )
    listed = api(auditor).get("/api/v1/contacts/", {"account": "ACC-Q", "active": "true"})
    assert [c["email"] for c in listed.json()["results"]] == ["bo@q.example"]
    assert api(auditor).post(f"/api/v1/contacts/{body['id']}/revoke/").status_code == 403
    revoked = api(finance).post(f"/api/v1/contacts/{body['id']}/revoke/")
    assert (revoked.json()["active"], revoked.json()["revoked_by"]) == (False, "fiona.finance")
    again = api(finance).post(f"/api/v1/contacts/{body['id']}/revoke/")
    assert (again.status_code, again.json()["detail"]) == (409, "bo@q.example is already revoked.")


def _notices(n: int, start: int) -> None:
    """n notices on their own accounts, each with the payment it announced and two that are not
    it (another account; 11 days away)."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from portal.models import PaymentNotice
    from tests.factories import PaymentFactory

    for i in range(start, start + n):
        acc = AccountFactory()
        contact = Contact.objects.create(
            account=acc, email=f"ap{acc.pk}@customer.example", invited_at=timezone.now()
        )
        amount = Decimal("100.00") + i
        PaymentNotice.objects.create(
            contact=contact, account=acc, date=dt.date(2026, 3, 1), amount=amount, currency="USD"
        )
        PaymentFactory(
            external_id=f"BANK-{i}", account=acc, amount=amount, date=dt.date(2026, 3, 4)
        )
        PaymentFactory(
            external_id=f"LATE-{i}", account=acc, amount=amount, date=dt.date(2026, 3, 12)
        )
        PaymentFactory(external_id=f"OTHER-{i}", amount=amount, date=dt.date(2026, 3, 1))


@pytest.mark.django_db
def test_expected_payments_page_costs_the_same_queries_for_n_and_3n_notices(finance, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(finance)

    def page() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get("/contacts/notices/").content.decode()
        return len(ctx.captured_queries), html

    _notices(5, 0)
    few, html = page()
    _notices(10, 5)
    many, html = page()
    assert few == many
    assert all(f"BANK-{i} (2026-03-04)" in html for i in range(15))
    assert "LATE-" not in html and "OTHER-" not in html
