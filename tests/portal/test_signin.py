"""Portal sign-in: invitation, single-use and short-lived links stored hashed, sessions,
revocation; a contact is not a Django user and reaches no staff page or the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from core.errors import BillingError
from portal import services
from portal.models import Contact, PortalEvent, PortalSession, SignInLink
from tests.factories import AccountFactory
from tests.world import portal_client

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

LINK_RE = re.compile(r"http://portal\.test(/portal/signin/[A-Za-z0-9_-]+/)")


def invite(account, finance, email="Jane@Customer.Example"):
    return services.contact_invite(account=account, email=email, name="Jane", user=finance)


def link_from_mail(index: int = -1) -> str:
    match = LINK_RE.search(mail.outbox[index].body)
    assert match, mail.outbox[index].body
    return match.group(1)


@pytest.mark.django_db(transaction=True)
def test_invitation_link_signs_in_once(finance):
    account = AccountFactory(name="Jane's Company")
    contact = invite(account, finance)
    assert (contact.email, contact.invited_by) == ("jane@customer.example", finance)
    assert mail.outbox[0].to == ["jane@customer.example"]
    assert mail.outbox[0].subject == "Your Northwind IT Services customer portal invitation"
    path = link_from_mail()
    client = Client()
    confirm = client.get(path)  # a mail scanner following the link does not use it up
    assert confirm.status_code == 200
    assert "Sign in as jane@customer.example" in confirm.content.decode()
    assert SignInLink.objects.get().used_at is None
    response = client.post(path)
    assert response.status_code == 302 and response["Location"] == "/portal/"
    cookie = response.cookies["billable_portal"]
    assert (cookie["httponly"], cookie["samesite"], cookie["path"]) == (True, "Lax", "/portal/")
    home = client.get("/portal/")
    assert home.status_code == 200
    assert "Jane&#x27;s Company" in home.content.decode()
    again = Client().post(path)
    assert again.status_code == 410
    assert "no longer valid" in again.content.decode()
    assert "billable_portal" not in again.cookies
    assert PortalSession.objects.count() == 1
    assert list(PortalEvent.objects.values_list("action", flat=True)) == ["signed_in"]


@pytest.mark.django_db(transaction=True)
def test_tokens_are_stored_only_as_digests(finance):
    invite(AccountFactory(), finance)
    path = link_from_mail()
    token = path.rstrip("/").rsplit("/", 1)[1]
    link = SignInLink.objects.get()
    assert link.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
    client = Client()
    session_token = client.post(path).cookies["billable_portal"].value
    assert PortalSession.objects.get().token_sha256 == (
        hashlib.sha256(session_token.encode()).hexdigest()
    )
    with connection.cursor() as cursor:
        for table in ("portal_signinlink", "portal_portalsession", "portal_portalevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
            assert token not in dump and session_token not in dump


@pytest.mark.django_db(transaction=True)
def test_link_expires(finance, settings):
    settings.PORTAL_LINK_MINUTES = 30
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        invite(AccountFactory(), finance)
    path = link_from_mail()
    with time_machine.travel(start + dt.timedelta(minutes=29, seconds=59), tick=False):
        assert Client().get(path).status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=30), tick=False):
        assert Client().get(path).status_code == 410
        assert Client().post(path).status_code == 410
    assert PortalSession.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_session_expires(alpha, settings):
    settings.PORTAL_SESSION_HOURS = 12
    client = portal_client(alpha.contact)
    assert client.get("/portal/").status_code == 200
    with time_machine.travel(timezone.now() + dt.timedelta(hours=12, seconds=1)):
        response = client.get("/portal/")
    assert (response.status_code, response["Location"]) == (302, "/portal/signin/")


@pytest.mark.django_db(transaction=True)
def test_revocation_ends_sessions_and_links(finance, alpha):
    client = portal_client(alpha.contact)
    services.signin_link_request(email=alpha.contact.email)
    path = link_from_mail()
    assert client.get("/portal/").status_code == 200
    services.contact_revoke(contact=alpha.contact, user=finance)
    response = client.get("/portal/")
    assert (response.status_code, response["Location"]) == (302, "/portal/signin/")
    assert Client().post(path).status_code == 410
    sent = len(mail.outbox)
    services.signin_link_request(email=alpha.contact.email)
    assert len(mail.outbox) == sent  # a revoked contact gets no new link
    with pytest.raises(BillingError, match="already revoked"):
        services.contact_revoke(contact=alpha.contact, user=finance)
    # Re-inviting lets the contact in again, with a new link.
    services.contact_invite(account=alpha.account, email=alpha.contact.email, user=finance)
    assert Client().post(link_from_mail()).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_sign_in_request_never_says_who_is_known(alpha, settings):
    settings.PORTAL_LINKS_PER_HOUR = 2
    client = Client()
    unknown = client.post("/portal/signin/", {"email": "nobody@else.example"})
    known = client.post("/portal/signin/", {"email": alpha.contact.email.upper()})
    assert unknown.content == known.content
    assert [m.to for m in mail.outbox] == [[alpha.contact.email]]
    client.post("/portal/signin/", {"email": alpha.contact.email})
    client.post("/portal/signin/", {"email": alpha.contact.email})
    assert len(mail.outbox) == 2  # at most PORTAL_LINKS_PER_HOUR per hour


@pytest.mark.django_db(transaction=True)
def test_sign_out(alpha):
    client = portal_client(alpha.contact)
    response = client.post("/portal/signout/")
    assert response["Location"] == "/portal/signin/"
    assert PortalSession.objects.get().ended_at is not None
    assert client.get("/portal/").status_code == 302


@pytest.mark.django_db
def test_invite_refusals_change_nothing(finance, alpha):
    before = list(Contact.objects.values_list("pk", "email", "revoked_at"))
    for email, message in [
        ("not-an-address", "is not an e-mail address"),
        (alpha.contact.email, "is already a contact of Customer ALPHA"),
    ]:
        with pytest.raises(BillingError, match=message):
            services.contact_invite(account=alpha.account, email=email, user=finance)
    assert list(Contact.objects.values_list("pk", "email", "revoked_at")) == before
    assert SignInLink.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_contact_is_not_a_django_user(finance, alpha):
    users = get_user_model().objects.count()
    client = portal_client(alpha.contact)
    assert client.get("/portal/").status_code == 200
    assert get_user_model().objects.count() == users
    assert client.get("/").status_code == 302  # staff home: to the staff login
    assert client.get("/api/v1/invoices/").status_code == 401
