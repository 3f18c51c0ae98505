"""Every date a user gives is bounded (issue 17 item 11): `ar-aging?as_of=0001-01-01` used to
answer 500. Out-of-range dates (core/dates.py: 1900-01-01 .. 2999-12-31) answer 400 JSON on the
API and a form error on pages; nothing reaches a 500.

The API cases are found, not listed: every date filter of every API list endpoint (walked from
the URL conf), plus the date parameters and bodies that are not filters."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django_filters import DateFilter

from core.dates import validate_date_bounds
from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"]


def _api_list_endpoints() -> list[tuple[str, list[str]]]:
    """(path, [date filter names]) of every API list endpoint with date filters."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "cls", None)
                fs = getattr(view, "filterset_class", None)
                route = prefix + str(p.pattern)
                actions = getattr(p.callback, "actions", {}) or {}
                if fs is None or "<" in route or actions.get("get") != "list":
                    continue
                names = [n for n, f in fs.base_filters.items() if isinstance(f, DateFilter)]
                if names:
                    found.append(("/" + route.replace("^", "").replace("$", ""), names))

    walk(get_resolver().url_patterns)
    return found


def test_every_date_filter_is_bounded():
    endpoints = _api_list_endpoints()
    assert len(endpoints) >= 7, endpoints  # agreements, entries, invoices, credit notes, ...
    for _, names in endpoints:
        assert names


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_api_date_filters_answer_400_json(auditor, value):
    client = token_client(auditor)
    for path, names in _api_list_endpoints():
        for name in names:
            response = client.get(path, {name: value})
            assert response.status_code == 400, (path, name, response.status_code)
            body = response.json()
            assert "1900-01-01" in str(body), (path, name, body)
        assert client.get(path, {names[0]: "2026-01-31"}).status_code == 200, path


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_ar_aging_api_refuses_out_of_range_as_of(finance, value):
    response = token_client(finance).get("/api/v1/reports/ar-aging/", {"as_of": value})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert "as_of" in str(response.json())
    ok = token_client(finance).get("/api/v1/reports/ar-aging/", {"as_of": "2026-01-31"})
    assert ok.status_code == 200


def test_api_bodies_with_dates_refuse_out_of_range(finance, services_manager):
    payment = token_client(finance).post(
        "/api/v1/payments/",
        {"account_id": "NOPE", "date": "0001-01-01", "amount": "10.00", "currency": "USD"},
        format="json",
    )
    assert payment.status_code == 400
    assert "date" in str(payment.json())
    run = token_client(services_manager).post(
        "/api/v1/reconciliation-runs/", {"as_of": "0001-01-01"}, format="json"
    )
    assert run.status_code == 400
    assert "as_of" in str(run.json())


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_pages_with_dates_show_a_form_error_not_500(client_for, auditor, finance, value):
    pages = [
        (auditor, "/receivables/aging/", {"as_of": value}),
        (finance, "/receivables/aging/export/", {"as_of": value}),
        (finance, "/receivables/accounting/", {"from": value, "to": "2026-01-31", "format": "qbo"}),
        (auditor, "/time/entries/", {"date_from": value}),
        (auditor, "/receivables/payments/", {"from": value}),
        (auditor, "/history/", {"date_from": value}),
    ]
    for user, path, params in pages:
        response = client_for(user).get(path, params)
        assert response.status_code in (200, 400), (path, response.status_code)
        text = response.content.decode(errors="replace")
        assert "Traceback" not in text
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            assert "between 1900-01-01 and 2999-12-31" in text or "out of range" in text, path


def test_validator_bounds():
    import datetime as dt

    from django.core.exceptions import ValidationError

    validate_date_bounds(dt.date(1900, 1, 1))
    validate_date_bounds(dt.date(2999, 12, 31))
    for bad in (dt.date(1, 1, 1), dt.date(9999, 12, 31)):
        with pytest.raises(ValidationError):
            validate_date_bounds(bad)
