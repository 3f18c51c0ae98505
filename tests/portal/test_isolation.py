"""Account isolation: a matrix over every portal URL and every object id of another account.
A contact of one account reaches nothing of another (404, nothing changed); the same requests
with the contact's own ids work, so the matrix can fail. And a portal session opens no staff
page and no API endpoint: every URL of the staff permission matrix answers as to an anonymous
visitor."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from portal.models import PortalEvent
from tests.api.permission_table import MATRIX
from tests.api.test_permission_matrix import (
    _request,
    expected_status,
    site_routes,
    snapshot,
)
from tests.world import Customer, make_world, portal_client

# URL name -> (method, the object of a Customer it names, or None, POST data)
PORTAL_URLS: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "portal:home": ("GET", None, {}),
    "portal:invoices": ("GET", None, {}),
    "portal:statement": ("GET", None, {}),
    "portal:invoice": ("GET", "invoice", {}),
    "portal:invoice_pdf": ("GET", "invoice", {}),
    "portal:invoice_ubl": ("GET", "invoice", {}),
    "portal:credit_note_ubl": ("GET", "credit_note", {}),
    "portal:notice_new": ("POST", "invoice", {"date": "2026-02-01", "amount": "5.00"}),
    "portal:dispute_new": ("POST", "invoice", {"category": "other", "message": "Why?"}),
    "portal:credit_note_pdf": ("GET", "credit_note", {}),
    "portal:dispute": ("GET", "dispute", {}),
    "portal:dispute_comment": ("POST", "dispute", {"message": "Hello"}),
    "portal:attachment": ("GET", "attachment", {}),
}
# Pages that need no session (sign-in) or end one.
PUBLIC = {"portal:signin", "portal:signin_link", "portal:signout"}


def _url(name: str, customer: Customer, obj: str | None) -> str:
    if obj is None:
        return reverse(name)
    return reverse(name, args=[getattr(customer, obj).pk])


def test_every_portal_url_is_in_the_isolation_matrix():
    names = {r.name for r in site_routes() if r.name.startswith("portal:")}
    assert names - PUBLIC == set(PORTAL_URLS)


def _ok(name: str, method: str) -> set[int]:
    return {302} if method == "POST" else {200}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PORTAL_URLS))
def test_a_contact_reaches_nothing_of_another_account(name, alpha, beta):
    method, obj, data = PORTAL_URLS[name]
    client = portal_client(alpha.contact)
    if obj is not None:
        before = snapshot()
        response = client.generic(method, _url(name, beta, obj), _encode(data), _CT)
        assert response.status_code == 404, (name, response.status_code)
        assert snapshot() == before, f"{name} changed the database for another account's id"
    own = client.generic(method, _url(name, alpha, obj), _encode(data), _CT)
    assert own.status_code in _ok(name, method), (name, own.status_code)
    if obj is None and method == "GET":
        body = b"".join(own.streaming_content) if own.streaming else own.content
        assert b"Customer BETA" not in body and beta.invoice.number.encode() not in body


@pytest.mark.django_db
def test_internal_notes_and_their_files_stay_hidden(alpha):
    client = portal_client(alpha.contact)
    page = client.get(reverse("portal:dispute", args=[alpha.dispute.pk])).content.decode()
    assert "Question from ALPHA" in page and "Staff only" not in page
    url = reverse("portal:attachment", args=[alpha.internal_attachment.pk])
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_every_id_of_another_account_is_refused(alpha, beta):
    """All of beta's object ids, through every portal URL that takes an id of that kind."""
    client = portal_client(alpha.contact)
    ids = {
        "invoice": [beta.invoice.pk],
        "credit_note": [beta.credit_note.pk],
        "dispute": [beta.dispute.pk],
        "attachment": [beta.attachment.pk, beta.internal_attachment.pk],
    }
    before = snapshot()
    events = PortalEvent.objects.count()
    for name, (method, obj, data) in PORTAL_URLS.items():
        if obj is None:
            continue
        for pk in ids[obj]:
            response = client.generic(method, reverse(name, args=[pk]), _encode(data), _CT)
            assert response.status_code == 404, (name, pk)
    assert snapshot() == before
    assert PortalEvent.objects.count() == events


@pytest.mark.django_db
def test_a_portal_session_opens_no_staff_page_and_no_api(alpha, settings, tmp_path):
    """Every URL of the staff matrix, with a portal cookie: the anonymous visitor's answer."""
    world = make_world()
    client = portal_client(alpha.contact)
    from rest_framework.test import APIClient

    api = APIClient()
    api.cookies = client.cookies
    for name, probes in MATRIX.items():
        if name.startswith("portal:"):
            continue
        for probe in probes:
            expected = expected_status(name, probe, "anonymous")
            target = client if probe.fmt == "page" else api
            before = snapshot()
            response = _request(name, probe, target, None, world)
            assert response.status_code == expected, (name, probe.method, response.status_code)
            if expected in (302, 401, 403) and name not in {"logout", "api-token"}:
                assert snapshot() == before, name


_CT = "application/x-www-form-urlencoded"


def _encode(data: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(data)
