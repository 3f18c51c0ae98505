"""API tokens and sessions (issue 17 item 14): hashed storage, shown once, list and revoke,
expiry, ended on password change; idle session timeout."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import ApiToken
from core.tokens import token_create
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def token_api(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def stored_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT string_agg(t::text, '|') FROM core_apitoken t")
        return cursor.fetchone()[0] or ""


def test_only_a_hash_is_stored_and_the_token_works(finance):
    record, raw = token_create(user=finance, name="sync")
    assert raw not in stored_text()
    assert record.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert len(raw) >= 40 and raw.startswith(record.prefix)
    assert token_api(raw).get("/api/v1/payments/").status_code == 200
    record.refresh_from_db()
    assert record.last_used_at is not None


def test_tokens_page_shows_a_new_token_once_and_lists_only_mine(client_for, finance, auditor):
    token_create(user=auditor, name="auditor's")
    client = client_for(finance)
    created = client.post(reverse("account_tokens"), {"name": "ERP sync"})
    assert created.status_code == 200
    raw = created.context["created"]["token"]
    assert raw.encode() in created.content
    assert "no-store" in created["Cache-Control"]
    listing = client.get(reverse("account_tokens"))
    assert raw.encode() not in listing.content  # never shown again
    assert ApiToken.objects.get(user=finance).prefix.encode() in listing.content
    assert b"ERP sync" in listing.content
    assert b"auditor&#x27;s" not in listing.content and b"auditor's" not in listing.content
    assert token_api(raw).get("/api/v1/payments/").status_code == 200


def test_revoke_ends_the_token_and_only_the_owner_may(client_for, finance, auditor):
    record, raw = token_create(user=finance)
    other = client_for(auditor).post(reverse("account_token_revoke", args=[record.pk]))
    assert other.status_code == 302
    assert ApiToken.objects.filter(pk=record.pk).exists()
    assert token_api(raw).get("/api/v1/payments/").status_code == 200
    mine = client_for(finance).post(reverse("account_token_revoke", args=[record.pk]))
    assert mine.status_code == 302
    assert not ApiToken.objects.filter(pk=record.pk).exists()
    response = token_api(raw).get("/api/v1/payments/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_tokens_expire_after_the_configured_days(finance, settings):
    settings.BILLABLE_API_TOKEN_TTL_DAYS = 7
    record, raw = token_create(user=finance)
    assert record.expires_at - record.created_at == dt.timedelta(days=7)
    assert token_api(raw).get("/api/v1/payments/").status_code == 200
    ApiToken.objects.filter(pk=record.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = token_api(raw).get("/api/v1/payments/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_password_change_ends_tokens_and_other_sessions_but_not_this_one(finance):
    _, raw = token_create(user=finance)
    elsewhere = Client()
    elsewhere.force_login(finance)
    assert elsewhere.get(reverse("account_tokens")).status_code == 200
    here = Client()
    here.force_login(finance)
    response = here.post(
        reverse("account_password"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-New-pass-2026!",
            "new_password2": "a-New-pass-2026!",
        },
    )
    assert response.status_code == 302
    assert token_api(raw).get("/api/v1/payments/").status_code == 401
    assert not ApiToken.objects.filter(user=finance).exists()
    assert here.get(reverse("account_tokens")).status_code == 200
    assert elsewhere.get(reverse("account_tokens")).status_code == 302  # sent to log in


def test_password_set_elsewhere_ends_tokens_but_a_rehash_does_not(finance, settings):
    _, raw = token_create(user=finance)
    # A log-in that upgrades the stored hash (another hasher preferred) keeps the tokens.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    before = type(finance).objects.get(pk=finance.pk).password
    assert Client().login(username=finance.username, password=PASSWORD)
    after = type(finance).objects.get(pk=finance.pk).password
    assert before.startswith("md5$") and after.startswith("pbkdf2_")
    assert token_api(raw).get("/api/v1/payments/").status_code == 200
    # Set by an admin (or `changepassword`): ended.
    finance.set_password("another-Pass-2026")
    finance.save()
    assert token_api(raw).get("/api/v1/payments/").status_code == 401


def test_sessions_end_after_the_idle_timeout_and_each_request_renews(finance, settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600 and settings.SESSION_SAVE_EVERY_REQUEST
    client = Client()
    assert client.login(username=finance.username, password=PASSWORD)
    key = client.session.session_key
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + dt.timedelta(minutes=5))
    assert client.get(reverse("account_tokens")).status_code == 200
    renewed = Session.objects.get(pk=key).expire_date
    assert renewed > timezone.now() + dt.timedelta(hours=7, minutes=59)
    Session.objects.filter(pk=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(reverse("account_tokens")).status_code == 302


def test_migration_hashes_existing_plain_tokens(finance):
    migration = importlib.import_module("core.migrations.0007_api_token")
    plain = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id int, "
            "created timestamptz)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, now() - interval '400 days')",
            [plain, finance.pk],
        )
    from django.apps import apps

    with connection.schema_editor() as editor:
        migration.hash_existing_tokens(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    assert plain not in stored_text()
    assert ApiToken.objects.get(user=finance).digest == hashlib.sha256(plain.encode()).hexdigest()
    assert token_api(plain).get("/api/v1/payments/").status_code == 200
