"""Errors are JSON a person can act on: `{"detail": ..., "errors": {field: [...]}}`; never a
traceback; never a 500 for bad input."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_missing_field_is_named(api_for, billing_admin, world):
    response = api_for(billing_admin).post(
        f"/api/v1/invoices/{world.draft.pk}/reject/", {}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input. reason: This field is required.",
        "errors": {"reason": ["This field is required."]},
    }
    world.draft.refresh_from_db()
    assert world.draft.status == "draft"


def test_refused_transition_is_409_with_the_services_message(api_for, billing_admin, world):
    response = api_for(billing_admin).post(
        f"/api/v1/invoices/{world.approved.pk}/approve/", {"version": 1}, format="json"
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Invoice INV-2025-00001 is approved: only a draft can be approved."
    }


def test_malformed_json_is_400(api_for, billing_admin, world):
    response = api_for(billing_admin).generic(
        "POST",
        f"/api/v1/invoices/{world.draft.pk}/reject/",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")


def test_unsupported_media_type_is_415(api_for, billing_admin, world):
    response = api_for(billing_admin).generic(
        "POST", f"/api/v1/invoices/{world.draft.pk}/reject/", "reason", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}


def test_wrong_method_is_405_json(api_for, billing_admin, world):
    response = api_for(billing_admin).delete(f"/api/v1/invoices/{world.draft.pk}/")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}


def test_nested_and_bad_values_are_reported_per_field(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/payments/",
        {"account_id": "ACC-1", "date": "31/01/2026", "amount": "12.345", "currency": "dollars"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"date", "amount", "currency"}
    assert errors["amount"] == ["Ensure that there are no more than 2 decimal places."]


def test_unknown_account_is_a_field_error(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/payments/",
        {"account_id": "NOPE", "date": "2026-02-01", "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"account_id": ["No account with Account ID 'NOPE'."]}


def test_unexpected_exception_is_a_json_500_without_traceback(api_for, finance, world, monkeypatch):
    import receivables.services

    def boom(**kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(receivables.services, "invoice_dispute", boom)
    response = api_for(finance).post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


def test_import_text_field_instead_of_file_is_400_not_a_path(api_for, finance, world):
    """A form field named `file` holding text is refused: services also accept paths."""
    response = api_for(finance).post(
        "/api/v1/payments/import/", {"file": "/etc/passwd"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["file"]
