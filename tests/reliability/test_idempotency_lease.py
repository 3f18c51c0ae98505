"""An Idempotency-Key whose request died is released after its lease (issue 17 item 5).

The dead request is made as a killed worker leaves it: its row in our own idempotency table
claimed (same user, key and request fingerprint) with no answer stored and its lease no longer
renewed. Within the lease a retry answers 409 with Retry-After; after it the retry runs (not 409
for 24 hours), its answer is stored, and the next retry replays it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.idempotency import request_fingerprint
from core.models import IDEMPOTENCY_LEASE, IdempotencyKey
from receivables.models import Payment
from tests.api.conftest import api_for, world  # noqa: F401  (fixtures used below)

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/"
PAYMENT = {"account_id": "ACC-1", "date": "2026-02-01", "amount": "25.00", "payment_id": "PAY-L1"}


def dead_request(user, key: str, *, claimed_ago: dt.timedelta) -> IdempotencyKey:
    """The row a request leaves when its worker is SIGKILLed after claiming `key`."""
    raw = APIRequestFactory().post(URL, PAYMENT, format="json")
    fingerprint = request_fingerprint(Request(raw, parsers=[JSONParser()]))
    claimed = timezone.now() - claimed_ago
    return IdempotencyKey.objects.create(
        user=user,
        key=key,
        method="POST",
        path=URL,
        request_hash=fingerprint,
        created_at=claimed,
        lease_until=claimed + IDEMPOTENCY_LEASE,  # last renewed when it was claimed
    )


def test_within_the_lease_a_retry_is_409_with_retry_after(api_for, finance, world):  # noqa: F811
    dead_request(finance, "lease-1", claimed_ago=dt.timedelta(seconds=20))
    response = api_for(finance).post(URL, PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="lease-1")
    assert response.status_code == 409
    assert "still being processed" in response.json()["detail"]
    assert 30 <= int(response["Retry-After"]) <= 40  # the 40 s left of the 60 s lease
    assert not Payment.objects.filter(external_id="PAY-L1").exists()


def test_after_the_lease_the_retry_runs_and_is_then_replayed(api_for, finance, world):  # noqa: F811
    dead_request(finance, "lease-2", claimed_ago=IDEMPOTENCY_LEASE + dt.timedelta(seconds=1))
    client = api_for(finance)
    retry = client.post(URL, PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="lease-2")
    assert retry.status_code == 201, retry.json()
    assert not retry.has_header("Idempotent-Replayed")
    assert Payment.objects.filter(external_id="PAY-L1").count() == 1
    record = IdempotencyKey.objects.get(key="lease-2")
    assert record.response_status == 201 and record.lease_until is None
    again = client.post(URL, PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="lease-2")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    assert Payment.objects.filter(external_id="PAY-L1").count() == 1


def test_a_lapsed_key_still_refuses_a_different_request(api_for, finance, world):  # noqa: F811
    dead_request(finance, "lease-3", claimed_ago=dt.timedelta(minutes=5))
    other = {**PAYMENT, "payment_id": "PAY-L2"}
    response = api_for(finance).post(URL, other, format="json", HTTP_IDEMPOTENCY_KEY="lease-3")
    assert response.status_code == 422
    assert not Payment.objects.filter(external_id="PAY-L2").exists()


def test_a_row_from_before_leases_lapses_from_its_claim_time(api_for, finance, world):  # noqa: F811
    row = dead_request(finance, "lease-4", claimed_ago=dt.timedelta(minutes=2))
    IdempotencyKey.objects.filter(pk=row.pk).update(lease_until=None)
    response = api_for(finance).post(URL, PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="lease-4")
    assert response.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_running_request_renews_its_lease(monkeypatch, finance):
    import time

    from core.api import idempotency

    monkeypatch.setattr(idempotency, "IDEMPOTENCY_LEASE", dt.timedelta(seconds=0.6))
    row = dead_request(finance, "lease-5", claimed_ago=dt.timedelta(0))
    first = timezone.now() + idempotency.IDEMPOTENCY_LEASE
    IdempotencyKey.objects.filter(pk=row.pk).update(lease_until=first)
    keeper = idempotency._LeaseKeeper(row.pk)  # what a live request runs beside its work
    assert keeper.thread is not None
    time.sleep(1.0)
    renewed = IdempotencyKey.objects.get(pk=row.pk).lease_until
    keeper.end()
    assert renewed > first
    assert renewed > timezone.now()  # held while it runs
    time.sleep(0.8)
    assert IdempotencyKey.objects.get(pk=row.pk).lease_until == renewed  # stopped with it
