"""API rate limits (issue 17 item 18): per token and per client address, counted in the shared
cache (Redis here, as in production), answering 429 JSON with Retry-After."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from core.tokens import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _redis_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ.get("BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
            "KEY_PREFIX": "throttle-test",
        }
    }
    cache.clear()
    yield
    cache.clear()


def client_with(raw: str, address: str = "10.9.0.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def test_a_token_over_its_rate_gets_429_with_retry_after(settings, finance, auditor):
    settings.BILLABLE_API_RATE_TOKEN = "3/min"
    settings.BILLABLE_API_RATE_ADDRESS = "1000/min"
    _, first = token_create(user=finance)
    _, second = token_create(user=finance)
    client = client_with(first)
    for _ in range(3):
        assert client.get("/api/v1/payments/").status_code == 200
    refused = client.get("/api/v1/payments/")
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/json")
    assert refused.json()["detail"].startswith("Request was throttled.")
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Per token: the user's other token and another user's token still work.
    assert client_with(second).get("/api/v1/payments/").status_code == 200
    assert client_with(token_create(user=auditor)[1]).get("/api/v1/payments/").status_code == 200


def test_an_address_over_its_rate_gets_429_whoever_asks(settings, finance, auditor):
    settings.BILLABLE_API_RATE_TOKEN = "1000/min"
    settings.BILLABLE_API_RATE_ADDRESS = "4/min"
    a = client_with(token_create(user=finance)[1], "10.9.0.2")
    b = client_with(token_create(user=auditor)[1], "10.9.0.2")
    assert [a.get("/api/v1/payments/").status_code for _ in range(2)] == [200, 200]
    assert [b.get("/api/v1/invoices/").status_code for _ in range(2)] == [200, 200]
    assert b.get("/api/v1/invoices/").status_code == 429
    # The unauthenticated token endpoint is limited by address too.
    anonymous = APIClient(REMOTE_ADDR="10.9.0.2")
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "fiona.finance", "password": "x"}, format="json"
    )
    assert response.status_code == 429 and "Retry-After" in response
    # Another address is not affected.
    assert (
        client_with(token_create(user=finance)[1], "10.9.0.3").get("/api/v1/payments/").status_code
        == 200
    )


def test_empty_rate_means_no_limit(settings, finance):
    settings.BILLABLE_API_RATE_TOKEN = ""
    settings.BILLABLE_API_RATE_ADDRESS = ""
    client = client_with(token_create(user=finance)[1])
    assert {client.get("/api/v1/payments/").status_code for _ in range(8)} == {200}


def test_a_client_sent_x_forwarded_for_neither_escapes_nor_shifts_the_address_limit(
    settings, finance
):
    """The address is REMOTE_ADDR, as for the log-in limits: DRF's default identification took a
    client's X-Forwarded-For verbatim (NUM_PROXIES unset), so a new header per request was a new
    address."""
    settings.BILLABLE_API_RATE_TOKEN = "1000/min"
    settings.BILLABLE_API_RATE_ADDRESS = "4/min"
    client = client_with(token_create(user=finance)[1], "10.9.0.4")
    answers = [
        client.get("/api/v1/payments/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(1, 7)
    ]
    assert answers == [200, 200, 200, 200, 429, 429]
    anonymous = APIClient(REMOTE_ADDR="10.9.0.4")
    response = anonymous.post(
        "/api/v1/auth/token/",
        {"username": "fiona.finance", "password": "x"},
        format="json",
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    assert response.status_code == 429 and "Retry-After" in response
    # Nor can a client spend another address's allowance by naming it.
    spender = client_with(token_create(user=finance)[1], "10.9.0.5")
    for _ in range(6):
        spender.get("/api/v1/payments/", HTTP_X_FORWARDED_FOR="10.9.0.6")
    victim = client_with(token_create(user=finance)[1], "10.9.0.6")
    assert victim.get("/api/v1/payments/").status_code == 200
