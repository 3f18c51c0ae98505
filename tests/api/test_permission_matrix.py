"""The permission matrix: every URL of the site (API endpoints AND pages) x every role of SPEC 7,
plus a user with no role and an anonymous visitor.

MATRIX (tests/api/permission_table.py) is the explicit table: URL name -> the requests to probe it with. For each probe
and persona the test asserts the exact status:
- a probe with `outcomes` lists them per persona (public and special endpoints);
- otherwise anonymous gets 401 (API) or a redirect to the login page (pages), a persona whose
  role holds the probe's capability (core.roles.CAPABILITIES) gets `ok`, anyone else 403;
- a refused request (401/403/302-to-login) changed nothing in the database.
`test_every_url_has_a_matrix_entry` walks the URL resolver and fails when a pattern (page or API)
has no entry, so a new endpoint cannot ship without deciding who may use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core import roles
from tests.api.conftest import PERSONAS, token_client
from tests.api.permission_table import EXCLUDED_PREFIXES, MATRIX, PERSONA_ROLE, Probe
from tests.world import World, make_world

# ---------------------------------------------------------------------------------------------
# Walking the resolver


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    callback: Any


def iter_routes(
    patterns: list[Any] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[Route]:
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        text = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from iter_routes(pattern.url_patterns, text, ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {text}>"
            if namespace and pattern.name:
                name = f"{namespace}:{pattern.name}"
            yield Route(name=name, route=text, callback=pattern.callback)


def site_routes() -> list[Route]:
    return [r for r in iter_routes() if not r.route.startswith(EXCLUDED_PREFIXES)]


def test_every_url_has_a_matrix_entry():
    names = {r.name for r in site_routes()}
    missing = sorted(names - set(MATRIX))
    assert not missing, (
        "These URLs have no entry in tests/api/permission_table.py MATRIX; decide which "
        f"capability each needs and add it: {missing}"
    )
    stale = sorted(set(MATRIX) - names)
    assert not stale, f"MATRIX lists URLs that no longer exist: {stale}"


def test_a_new_url_without_an_entry_is_reported(settings):
    """The coverage test above fails when someone adds a URL without deciding who may use it."""
    settings.ROOT_URLCONF = "tests.api.urls_with_extra"
    missing = {r.name for r in site_routes()} - set(MATRIX)
    assert missing == {"brand-new"}


def test_every_matrix_capability_exists():
    for name, probes in MATRIX.items():
        for probe in probes:
            assert probe.capability is None or probe.capability in roles.CAPABILITIES, name
            # A capability or explicit outcomes; both only where the page also checks an
            # object's own capability (the label names it).
            both = probe.capability is not None and probe.outcomes is not None
            assert probe.capability is not None or probe.outcomes is not None, name
            assert not both or probe.label.startswith("object capability"), name


def test_pages_declare_the_capability_the_matrix_expects():
    """A page decorated with @require(cap) carries `required_capability`: it must be the one the
    matrix tests, so a changed decorator is noticed here."""
    for route in site_routes():
        declared = getattr(route.callback, "required_capability", None)
        probes = MATRIX.get(route.name, [])
        if declared is not None:
            assert {p.capability for p in probes} == {declared}, route.name


def test_api_views_declare_the_capability_the_matrix_expects():
    """Every API view checks HasCapability and its declared capability per method/action is the
    one in the matrix."""
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    for route in site_routes():
        view_class = getattr(route.callback, "cls", None)
        if view_class is None or not route.route.startswith("api/v1/") or route.name == "api-token":
            continue
        assert roles.HasCapability in view_class.permission_classes, route.name
        for probe in MATRIX[route.name]:
            actions = getattr(route.callback, "actions", None)
            view = view_class()
            view.action = actions.get(probe.method.lower()) if actions else None
            request = factory.generic(probe.method, "/")
            assert roles.required_capability(view, request.method) == probe.capability, (
                route.name,
                probe.method,
            )


# ---------------------------------------------------------------------------------------------
# The behavioural matrix


def _cases() -> list[Any]:
    cases = []
    for name, probes in MATRIX.items():
        for index, probe in enumerate(probes):
            for persona in PERSONAS:
                label = f"{name}-{probe.method}{index}-{persona}"
                cases.append(pytest.param(name, index, persona, id=label))
    return cases


def expected_status(name: str, probe: Probe, persona: str) -> int:
    if probe.outcomes is not None:
        return probe.outcomes[persona]
    if persona == "anonymous":
        return 302 if probe.fmt == "page" else 401
    role = PERSONA_ROLE[persona]
    return probe.ok if role in roles.CAPABILITIES[probe.capability] else 403


SNAPSHOT_APPS = (
    "agreements",
    "timesheets",
    "invoicing",
    "receivables",
    "portal",
    "core",
)
# Auth bookkeeping, not business records: a token's first use stamps its last_used_at.
SNAPSHOT_SKIP = {"core.ApiToken"}


def snapshot() -> dict[str, str]:
    """A digest of every row of every billing model (and its history table), for "nothing
    changed": one md5 over the rows of each table, in primary-key order, in one query."""
    from django.db import connection

    parts = []
    for label in SNAPSHOT_APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.proxy or model._meta.label in SNAPSHOT_SKIP:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            parts.append(
                f"SELECT '{model._meta.label}', count(*)::text || ':' || "
                f"coalesce(md5(string_agg(t::text, '|' ORDER BY t.{pk})), '') FROM {table} t"
            )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts))
        return dict(cursor.fetchall())


def _client(probe: Probe, user: Any) -> Any:
    """Made before the snapshot: logging in (session, token) is not the request under test."""
    if probe.fmt == "page":
        client = Client()
        if user is not None:
            client.force_login(user)
        return client
    return token_client(user)


def _request(name: str, probe: Probe, client: Any, user: Any, world: World) -> Any:
    kwargs = probe.kwargs(world)
    url = reverse(name, kwargs=kwargs) if name != "api-not-found" else "/api/v1/no-such-endpoint/"
    query = probe.extra.get("query")
    body = probe.body(world) if probe.body else None
    if probe.fmt == "page":
        return client.generic(probe.method, url + ("?" + _qs(query) if query else ""))
    if name == "api-token":
        username = user.username if user is not None else "nobody"
        password = "pw-Billable-2026" if user is not None else "wrong"
        client.credentials()
        return client.post(url, {"username": username, "password": password}, format="json")
    if probe.method == "GET":
        return client.get(url, query or {})
    return client.generic(
        probe.method,
        url,
        data=_json(body if body is not None else {}),
        content_type="application/json",
    )


def _qs(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode(query)


def _json(body: Any) -> str:
    import json

    return json.dumps(body)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "persona"), _cases())
def test_permission_matrix(name, index, persona, persona_user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    cache.clear()  # login failure counters
    probe = MATRIX[name][index]
    user = persona_user(persona)
    world = make_world()
    expected = expected_status(name, probe, persona)
    client = _client(probe, user)
    before = snapshot()
    response = _request(name, probe, client, user, world)
    detail = getattr(response, "content", b"")[:300]
    assert response.status_code == expected, (name, probe.method, persona, detail)
    refused = expected in (401, 403) or (
        probe.fmt == "page" and persona == "anonymous" and expected == 302
    )
    if probe.fmt == "page" and persona == "anonymous" and probe.outcomes is None:
        assert response["Location"].startswith(reverse("login")), response["Location"]
    if probe.fmt != "page" and expected in (401, 403):
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]
    if refused or probe.method in ("GET", "HEAD"):
        assert snapshot() == before, f"{name} {probe.method} as {persona} changed the database"


def test_matrix_covers_every_role_and_anonymous():
    assert set(PERSONAS) == {
        "billing_admin",
        "services_manager",
        "finance",
        "auditor",
        "outsider",
        "anonymous",
    }
    assert {PERSONA_ROLE[p] for p in PERSONAS} - {None} == set(roles.ROLES)


def test_refused_write_really_changes_nothing_detects_changes(db):
    """The snapshot used above notices a change (so the matrix's assertion can fail)."""
    world = make_world()
    before = snapshot()
    world.over_cap_flag.reason = "x"
    world.over_cap_flag.status = "released"
    world.over_cap_flag.save()
    assert snapshot() != before
