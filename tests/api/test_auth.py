"""Token authentication, session authentication with CSRF, and the token endpoint's limit."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.models import ApiToken
from invoicing.models import Invoice

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_a_new_token_shown_once(finance):
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/",
        {"username": "fiona.finance", "password": "pw-Billable-2026", "name": "ERP"},
        format="json",
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = response.json()["token"]
    stored = ApiToken.objects.get(user=finance)
    assert stored.digest == hashlib.sha256(key.encode()).hexdigest()
    assert stored.name == "ERP" and key.startswith(stored.prefix)
    again = client.post(
        "/api/v1/auth/token/",
        {"username": "fiona.finance", "password": "pw-Billable-2026"},
        format="json",
    )
    assert again.json()["token"] != key  # a second token; the first is never shown again
    assert ApiToken.objects.filter(user=finance).count() == 2
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/payments/").status_code == 200


def test_wrong_password_is_400_with_a_message_and_no_token(finance):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "fiona.finance", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "Unable to log in with provided credentials."}
    assert not ApiToken.objects.exists()


def test_missing_fields_are_named(db):
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}


def test_token_endpoint_locks_out_after_repeated_failures(finance, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = APIClient()
    for _ in range(3):
        bad = client.post(
            "/api/v1/auth/token/", {"username": "fiona.finance", "password": "x"}, format="json"
        )
        assert bad.status_code == 400
    locked = client.post(
        "/api/v1/auth/token/",
        {"username": "fiona.finance", "password": "pw-Billable-2026"},
        format="json",
    )
    assert locked.status_code == 429
    assert locked.json()["detail"].startswith("Too many failed log-ins.")
    assert not ApiToken.objects.exists()


def test_no_credentials_is_401_with_challenge(db):
    response = APIClient().get("/api/v1/invoices/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_invalid_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    response = client.get("/api/v1/invoices/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_refused_role_gets_403_naming_the_capability(api_for, auditor, world):
    response = api_for(auditor).post(f"/api/v1/invoices/{world.draft.pk}/approve/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your role may not do this (it needs the 'invoices.manage' capability)."
    }
    world.draft.refresh_from_db()
    assert world.draft.status == "draft"


def test_session_auth_reads_without_csrf(finance, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(finance)
    assert client.get("/api/v1/invoices/").status_code == 200


def test_session_write_without_csrf_token_is_refused_and_changes_nothing(finance, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(finance)
    response = client.post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/",
        {"reason": "Hours"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert Invoice.objects.get(pk=world.approved.pk).disputed is False


def test_session_write_with_csrf_token_works(finance, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(finance)
    client.get("/accounts/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/",
        {"reason": "Hours"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    assert response.json()["disputed"] is True


def test_token_writes_need_no_csrf(api_for, finance, world):
    response = api_for(finance).post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/", {"reason": "Hours"}, format="json"
    )
    assert response.status_code == 200
