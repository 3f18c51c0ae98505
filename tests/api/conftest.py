"""Fixtures for the API tests: token clients per persona and a small world of one of everything."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from core.tokens import token_create
from tests.world import World, make_world

PERSONAS = ("billing_admin", "services_manager", "finance", "auditor", "outsider", "anonymous")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The matrix creates a persona per case: a fast hasher keeps ~400 cases quick. (Passwords
    are still checked: the token endpoint tests log in with them.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Login-failure counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def token_client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")
    return client


@pytest.fixture
def api_for():
    """api_for(user) -> an APIClient sending that user's token (None: anonymous)."""
    return token_client


@pytest.fixture
def persona_user(request):
    """persona_user(name) -> the user of that persona fixture, or None for 'anonymous'."""

    def get(name: str) -> Any | None:
        return None if name == "anonymous" else request.getfixturevalue(name)

    return get


@pytest.fixture
def world(db) -> World:
    return make_world()
