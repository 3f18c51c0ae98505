"""Idempotency-Key: same key + same request replays the first answer; same key + another request
is refused (422); a request still running answers 409; keys expire after 24 hours."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import IdempotencyKey
from receivables.models import Payment

pytestmark = pytest.mark.django_db

PAYMENT = {"account_id": "ACC-1", "date": "2026-02-01", "amount": "25.00", "payment_id": "PAY-77"}


def test_same_key_same_body_replays_the_first_answer(api_for, finance, world):
    client = api_for(finance)
    first = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    second = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Payment.objects.filter(external_id="PAY-77").count() == 1


def test_same_key_different_body_is_refused_and_changes_nothing(api_for, finance, world):
    client = api_for(finance)
    client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    other = {**PAYMENT, "payment_id": "PAY-78"}
    response = client.post("/api/v1/payments/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 422
    assert "already used for a different request" in response.json()["detail"]
    assert not Payment.objects.filter(external_id="PAY-78").exists()


def test_same_key_on_another_endpoint_is_refused(api_for, finance, world):
    client = api_for(finance)
    client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    response = client.post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/",
        {"reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-3",
    )
    assert response.status_code == 422
    world.approved.refresh_from_db()
    assert world.approved.disputed is False


def test_keys_belong_to_their_user(api_for, finance, world):
    from core import roles
    from tests.factories import UserFactory

    other = UserFactory(username="fred.finance", roles=[roles.FINANCE])
    api_for(finance).post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    theirs = {**PAYMENT, "payment_id": "PAY-79"}
    response = api_for(other).post(
        "/api/v1/payments/", theirs, format="json", HTTP_IDEMPOTENCY_KEY="k-4"
    )
    assert response.status_code == 201
    assert Payment.objects.filter(external_id__in=["PAY-77", "PAY-79"]).count() == 2


def test_request_still_running_is_409(api_for, finance, world):
    client = api_for(finance)
    first = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert first.status_code == 201
    # Put the key back in the state it has while the first request runs (no answer stored yet).
    IdempotencyKey.objects.filter(key="k-5").update(response_status=None, response_body="")
    running = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert running.status_code == 409
    assert "still being processed" in running.json()["detail"]
    assert Payment.objects.filter(external_id="PAY-77").count() == 1


def test_expired_key_is_forgotten(api_for, finance, world):
    client = api_for(finance)
    client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    IdempotencyKey.objects.filter(key="k-7").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    other = {**PAYMENT, "payment_id": "PAY-80"}
    response = client.post("/api/v1/payments/", other, format="json", HTTP_IDEMPOTENCY_KEY="k-7")
    assert response.status_code == 201
    assert IdempotencyKey.objects.filter(key="k-7").count() == 1


def test_refused_business_answer_is_replayed_too(api_for, finance, world):
    client = api_for(finance)
    url = f"/api/v1/invoices/{world.disputed.pk}/dispute/"
    first = client.post(url, {"reason": "again"}, format="json", HTTP_IDEMPOTENCY_KEY="k-8")
    assert first.status_code == 409
    assert first.json()["detail"] == "Invoice INV-2025-00002 is already disputed."
    second = client.post(url, {"reason": "again"}, format="json", HTTP_IDEMPOTENCY_KEY="k-8")
    assert second.status_code == 409
    assert second["Idempotent-Replayed"] == "true"


def test_refused_permission_does_not_claim_the_key(api_for, auditor, world):
    response = api_for(auditor).post(
        "/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-9"
    )
    assert response.status_code == 403
    assert not IdempotencyKey.objects.exists()


def test_server_error_releases_the_key(api_for, finance, world, monkeypatch):
    import receivables.services

    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(receivables.services, "payment_record", boom)
    client = api_for(finance)
    response = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-10")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Something went wrong on our side; it has been logged. Try again or contact support."
    }
    assert b"disk on fire" not in response.content
    assert not IdempotencyKey.objects.filter(key="k-10").exists()
    monkeypatch.undo()
    retry = client.post("/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="k-10")
    assert retry.status_code == 201


def test_same_file_uploaded_twice_is_the_same_request(api_for, finance, world):
    csv = b"Payment ID,Date,Account ID,Amount\r\nPAY-90,2026-02-01,ACC-1,10.00\r\n"
    client = api_for(finance)
    first = client.post(
        "/api/v1/payments/import/",
        {"file": SimpleUploadedFile("a.csv", csv)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k-11",
    )
    assert first.status_code == 200
    assert first.json()["created"] == 1
    second = client.post(
        "/api/v1/payments/import/",
        {"file": SimpleUploadedFile("a.csv", csv)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k-11",
    )
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["created"] == 1
    changed = csv.replace(b"10.00", b"11.00")
    third = client.post(
        "/api/v1/payments/import/",
        {"file": SimpleUploadedFile("a.csv", changed)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k-11",
    )
    assert third.status_code == 422


def test_malformed_key_is_400(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/payments/", PAYMENT, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["Idempotency-Key"]
    assert not Payment.objects.filter(external_id="PAY-77").exists()
