"""Log-in limits (issue 17 items 12 and 13): counted per username and, more loosely, per address,
on every path that checks a password (the login page, /admin/login/, the API token endpoint)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from core import roles
from tests.factories import UserFactory

PASSWORD = "pw-Billable-2026"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def superuser(db):
    return UserFactory(username="sue.super", is_staff=True, is_superuser=True)


def test_admin_login_refuses_the_right_password_after_twelve_wrong_ones(superuser):
    client = Client()
    for _ in range(12):
        client.post("/admin/login/", {"username": "sue.super", "password": "wrong"})
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "sue.super", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert b"Too many failed log-ins" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_admin_login_works_before_the_limit(superuser):
    client = Client()
    for _ in range(4):
        assert (
            client.post("/admin/login/", {"username": "sue.super", "password": "x"}).status_code
            == 200
        )
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "sue.super", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(superuser.pk)


def test_failures_for_one_user_do_not_lock_another_behind_the_same_address(db):
    UserFactory(username="alice", roles=[roles.FINANCE])
    bob = UserFactory(username="bob", roles=[roles.FINANCE])
    client = Client()  # every request from 127.0.0.1
    url = reverse("login")
    for _ in range(5):
        assert client.post(url, {"username": "alice", "password": "wrong"}).status_code == 200
    assert client.post(url, {"username": "alice", "password": PASSWORD}).status_code == 429
    response = client.post(url, {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(bob.pk)


def test_a_user_is_locked_whatever_address_the_guesses_come_from(db):
    UserFactory(username="alice", roles=[roles.FINANCE])
    url = reverse("login")
    for i in range(5):
        Client(REMOTE_ADDR=f"10.0.0.{i + 1}").post(url, {"username": "alice", "password": "wrong"})
    client = Client(REMOTE_ADDR="10.0.0.99")
    assert client.post(url, {"username": "ALICE ", "password": PASSWORD}).status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_address_limit_is_looser_and_counts_across_usernames(settings, db):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 8
    victim = UserFactory(username="victim")
    client = Client(REMOTE_ADDR="10.1.1.1")
    url = reverse("login")
    for i in range(8):  # 8 usernames, 1 failure each: no username reaches its limit of 5
        assert client.post(url, {"username": f"guess{i}", "password": "x"}).status_code == 200
    assert client.post(url, {"username": victim.username, "password": PASSWORD}).status_code == 429
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.1.1.2")
    assert other.post(url, {"username": victim.username, "password": PASSWORD}).status_code == 302


def test_every_login_path_shares_the_same_counter(superuser):
    """Failures on the API token endpoint and /admin/login/ lock the login page, and back."""
    api = APIClient()
    for _ in range(3):
        bad = api.post(
            "/api/v1/auth/token/", {"username": "sue.super", "password": "x"}, format="json"
        )
        assert bad.status_code == 400
    client = Client()
    for _ in range(2):
        client.post("/admin/login/", {"username": "sue.super", "password": "x"})
    page = client.post(reverse("login"), {"username": "sue.super", "password": PASSWORD})
    assert page.status_code == 429
    token = api.post(
        "/api/v1/auth/token/", {"username": "sue.super", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 429
    assert token.json()["detail"].startswith("Too many failed log-ins.")
    assert "token" not in token.json()


def test_the_backend_itself_refuses_a_locked_user(superuser):
    """Any other caller of authenticate() (a future login path) is limited too."""
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    request = RequestFactory().post("/somewhere/")
    for _ in range(5):
        assert authenticate(request, username="sue.super", password="x") is None
    assert authenticate(request, username="sue.super", password=PASSWORD) is None
    cache.clear()
    assert authenticate(request, username="sue.super", password=PASSWORD) == superuser
