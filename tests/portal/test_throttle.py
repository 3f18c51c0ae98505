"""Rate limits on portal sign-in link requests (issue 18): per client address and per e-mail
address; beyond them a 429 page (or JSON) with Retry-After, the same for unknown addresses."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from portal import services
from tests.factories import AccountFactory

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

URL = "/portal/signin/"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PORTAL_SIGNIN_WINDOW_SECONDS = 600
    settings.PORTAL_SIGNIN_PER_ADDRESS = 4
    settings.PORTAL_SIGNIN_PER_EMAIL = 2
    settings.PORTAL_LINKS_PER_HOUR = 10
    cache.clear()
    yield
    cache.clear()


def ask(client: Client, email: str, address: str = "192.0.2.10", **extra):
    return client.post(URL, {"email": email}, REMOTE_ADDR=address, **extra)


@pytest.mark.django_db(transaction=True)
def test_per_email_limit_answers_429_with_retry_after(finance):
    services.contact_invite(account=AccountFactory(), email="jane@customer.example", user=finance)
    mail.outbox.clear()
    client = Client()
    for _ in range(2):
        assert ask(client, "jane@customer.example").status_code == 200
    assert len(mail.outbox) == 2
    response = ask(client, "Jane@Customer.example", address="198.51.100.7")  # other address
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 600
    assert "Too many sign-in link requests" in response.content.decode()
    assert len(mail.outbox) == 2  # nothing sent past the limit


@pytest.mark.django_db
def test_unknown_addresses_are_limited_alike():
    client = Client()
    assert [ask(client, "nobody@x.example").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db
def test_per_address_limit_over_different_emails():
    client = Client()
    codes = [ask(client, f"user{i}@x.example").status_code for i in range(5)]
    assert codes == [200, 200, 200, 200, 429]
    # Another client address is not affected.
    assert ask(client, "user9@x.example", address="203.0.113.5").status_code == 200
    # A GET of the page is never limited.
    assert client.get(URL, REMOTE_ADDR="192.0.2.10").status_code == 200


@pytest.mark.django_db
def test_json_clients_get_json(settings):
    client = Client()
    for _ in range(2):
        ask(client, "a@x.example")
    response = ask(client, "a@x.example", HTTP_ACCEPT="application/json")
    assert response.status_code == 429 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["retry_after"] == int(response["Retry-After"])
    assert body["detail"].startswith("Too many sign-in link requests")
