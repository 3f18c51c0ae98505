"""Headers and the API docs (issue 17 items 15, 16): Content-Security-Policy with no inline
script or handler outside a nonce, `Cache-Control: no-store` on logged-in pages, authenticated
API answers and downloads, the schema and docs behind a login, the docs' files served locally
(the browser test blocks every other host)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from core.tokens import token_create

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
HTML_TEMPLATES = [p for p in TEMPLATES.rglob("*.html") if "pdf" not in p.parts]


def csp_of(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in header.split("; ")}


@pytest.mark.django_db
def test_every_page_has_a_policy_without_unsafe_inline_scripts(client, client_for, finance):
    for response in (client.get(reverse("login")), client_for(finance).get("/receivables/aging/")):
        policy = csp_of(response)
        assert policy["default-src"] == "'self'"
        assert "'unsafe-inline'" not in policy["script-src"]
        assert "'unsafe-inline'" not in policy["style-src"]
        assert policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_inline_scripts_carry_this_responses_nonce(client_for, services_manager):
    response = client_for(services_manager).get("/time/dashboard/")
    nonce = re.search(r"'nonce-([^']+)'", csp_of(response)["script-src"]).group(1)
    html = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline, "the dashboard has an inline script"
    assert all(f'nonce="{nonce}"' in attrs for attrs in inline)
    again = client_for(services_manager).get("/time/dashboard/")
    assert csp_of(again)["script-src"] != csp_of(response)["script-src"]  # fresh per response


def test_no_template_has_an_inline_handler_style_attribute_or_bare_script():
    offenders = []
    for path in HTML_TEMPLATES:
        text = path.read_text(encoding="utf-8")
        for pattern in (
            r"\son[a-z]+\s*=",  # onsubmit=, onclick=, ...
            r"\sstyle\s*=",
            r"<script(?![^>]*\b(src|nonce)=)[^>]*>",
            r"<style(?![^>]*\bnonce=)[^>]*>",
            r"javascript:",
        ):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert offenders == []


@pytest.mark.django_db
def test_logged_in_pages_api_answers_and_downloads_are_not_stored(client_for, finance, client):
    page = client_for(finance).get("/receivables/aging/")
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    download = client_for(finance).get("/receivables/aging/export/?format=csv")
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=finance)[1]}")
    answer = api.get("/api/v1/reports/ar-aging/?format=csv")
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    assert "no-store" in api.get("/api/v1/payments/")["Cache-Control"]


@pytest.mark.django_db
def test_schema_and_docs_require_a_login(client, client_for, auditor):
    cache.clear()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 401
    assert schema.json() == {"detail": "Authentication credentials were not provided."}
    docs = client.get("/api/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith(reverse("login"))
    assert client.get("/api/docs/?script=").status_code == 302
    logged_in = client_for(auditor)
    assert logged_in.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200
    page = logged_in.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "an asset from another host"
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    script = logged_in.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=auditor)[1]}")
    assert api.get("/api/schema/", HTTP_ACCEPT="application/json").status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_page_renders_with_every_other_host_blocked(page, live_server, auditor):
    from tests.browser import log_in

    blocked: list[str] = []
    problems: list[str] = []

    def route(route_obj) -> None:
        url = route_obj.request.url
        if url.startswith(("http://127.0.0.1", "http://localhost")):
            route_obj.continue_()
        else:
            blocked.append(url)
            route_obj.abort()

    page.route("**/*", route)
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    log_in(page, auditor)
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Billable API" in page.locator(".swagger-ui .info .title").inner_text()
    page.wait_for_selector(".opblock-tag", timeout=20_000)
    assert page.locator(".opblock-tag").count() >= 3
    assert problems == []
    assert blocked == []
    # A page with an inline script (nonce) and data-confirm forms runs with no CSP complaint.
    page.goto("/receivables/aging/")
    page.wait_for_load_state("networkidle")
    assert problems == []
