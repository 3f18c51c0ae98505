"""Issue 17, input limits: an over-limit body is refused from its Content-Length before anything
reads it (413, JSON under /api/)."""

from __future__ import annotations

import pytest

from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def test_a_200_mb_csv_body_is_refused_before_it_is_read(api_for, billing_admin, world):
    before = TimeEntry.objects.count()
    # The test client sends 9 bytes but says 200 MB: a server that read the body would hang or
    # grow; the limit answers from the header alone.
    response = api_for(billing_admin).generic(
        "POST",
        "/api/v1/time-entries/import/",
        b"Entry ID\n",
        content_type="text/csv",
        CONTENT_LENGTH=str(200 * MB),
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is 200 MB; the limit here is 50 MB.",
    }
    assert response["Connection"] == "close"
    assert TimeEntry.objects.count() == before


def test_a_json_import_over_its_limit_and_any_other_large_body_are_413_json(
    api_for, billing_admin, finance, world
):
    response = api_for(billing_admin).generic(
        "POST",
        "/api/v1/time-entries/import/",
        b"[]",
        content_type="application/json",
        CONTENT_LENGTH=str(11 * MB),
    )
    assert (response.status_code, response.json()["detail"]) == (
        413,
        "The request body is 11 MB; the limit here is 10 MB.",
    )
    response = api_for(finance).generic(
        "POST",
        "/api/v1/payments/",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(3 * MB),
    )
    assert (response.status_code, response.json()["detail"]) == (
        413,
        "The request body is 3 MB; the limit here is 2 MB.",
    )
    bad = api_for(finance).generic(
        "POST", "/api/v1/payments/", b"{}", content_type="application/json", CONTENT_LENGTH="x"
    )
    assert bad.status_code == 400 and "Content-Length" in bad.json()["detail"]


def test_an_upload_page_refuses_an_over_limit_body_unread(client_for, billing_admin):
    response = client_for(billing_admin).generic(
        "POST",
        "/time/import/",
        b"x",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(60 * MB),
    )
    assert response.status_code == 413
    assert response.content.decode() == "The request body is 60 MB; the limit here is 50 MB."
