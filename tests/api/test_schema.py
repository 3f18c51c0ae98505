"""The OpenAPI schema is served, valid, and true: schemathesis drives every operation through the
WSGI app with a billing admin's token (and an anonymous pass for the auth checks); no answer may
be a 5xx or disagree with the schema (status code, content type, headers, body)."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import UserFactory
from tests.world import make_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# A fixed token (created by the `schema_world` fixture) so the schema can be loaded at import.
TOKEN = "schemathesis0billing0admin0token00000000"


@pytest.fixture
def schema_world(db, settings, tmp_path):
    """One of everything, a billing admin with a known token, and requests that run in the
    test's transaction, as Django's test client arranges (the WSGI handler must not close the
    connection between requests)."""
    import datetime as dt

    from django.utils import timezone

    from core import roles
    from core.models import ApiToken
    from core.tokens import token_digest

    settings.MEDIA_ROOT = str(tmp_path)
    admin = UserFactory(username="schema.admin", roles=[roles.BILLING_ADMIN])
    now = timezone.now()
    ApiToken.objects.create(
        user=admin,
        prefix=TOKEN[:11],
        digest=token_digest(TOKEN),
        created_at=now,
        expires_at=now + dt.timedelta(days=1),
    )
    make_world()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load(mode: GenerationMode, max_examples: int):
    """The live schema, as /api/schema/ serves it, bound to the WSGI application."""
    from drf_spectacular.generators import SchemaGenerator

    from billing_site.wsgi import application

    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(document, default=str)))
    schema.app = application
    schema.config.update(
        headers={"Authorization": f"Token {TOKEN}"},
        suppress_health_check=[HealthCheck.all],
    )
    schema.config.generation.update(
        modes=[mode], max_examples=max_examples, deterministic=True, no_shrink=True
    )
    return schema


def _nothing_to_negate(ctx) -> bool:
    """Operations whose only input is a free-text path parameter (an external key): any string
    is valid, so no invalid request exists to generate."""
    raw = ctx.operation.definition.raw
    params = raw.get("parameters", [])
    free_text_path = [
        p for p in params if p["in"] == "path" and p["schema"].get("type") == "string"
    ]
    others = [p for p in params if p["in"] != "path" or p not in free_text_path]
    return bool(free_text_path) and not others and "requestBody" not in raw


positive = _load(GenerationMode.POSITIVE, 25)
negative = _load(GenerationMode.NEGATIVE, 15).exclude(_nothing_to_negate)


@positive.parametrize()
def test_api_conforms_to_schema_with_valid_input(case, schema_world):
    case.call_and_validate(checks=CHECKS)


@negative.parametrize()
def test_api_never_fails_on_invalid_input(case, schema_world):
    case.call_and_validate(checks=CHECKS)


def test_schema_is_served_and_lists_every_endpoint(client_for, auditor):
    response = client_for(auditor).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/token/",
        "/api/v1/agreements/",
        "/api/v1/agreements/import/",
        "/api/v1/time-entries/import/",
        "/api/v1/flags/{id}/release/",
        "/api/v1/flags/{id}/write-off/",
        "/api/v1/invoice-runs/",
        "/api/v1/invoice-runs/{id}/",
        "/api/v1/invoices/{id}/approve/",
        "/api/v1/invoices/{id}/reject/",
        "/api/v1/invoices/{id}/adjust/",
        "/api/v1/invoices/{id}/pdf/",
        "/api/v1/credit-notes/",
        "/api/v1/payments/",
        "/api/v1/payments/import/",
        "/api/v1/allocations/{id}/reverse/",
        "/api/v1/reports/ar-aging/",
    } <= paths


def test_schema_documents_decimals_enums_errors_and_idempotency(client_for, auditor):
    schema = client_for(auditor).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    total = components["Invoice"]["properties"]["total"]
    assert total["type"] == "string"
    assert total["format"] == "decimal"
    assert components["InvoiceStatusEnum"]["enum"] == [
        "draft",
        "approved",
        "sent",
        "partially_paid",
        "paid",
        "rejected",
    ]
    assert set(components["Error"]["properties"]) == {"detail", "errors"}
    approve = schema["paths"]["/api/v1/invoices/{id}/approve/"]["post"]
    assert {"400", "401", "403", "404", "409", "422"} <= set(approve["responses"])
    assert approve["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    headers = [p["name"] for p in approve["parameters"] if p["in"] == "header"]
    assert headers == ["Idempotency-Key"]
    aging = schema["paths"]["/api/v1/reports/ar-aging/"]["get"]
    assert set(aging["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }


def test_docs_page_is_served(client_for, auditor):
    response = client_for(auditor).get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
