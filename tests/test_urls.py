"""Every URL of the site keeps its name and its path: the table in tests/urls.txt is the full list
of (URL name, path pattern) pairs under ROOT_URLCONF (the admin's own URLs left out), and each
route resolves back to its own name (no route shadowed by one listed before it).

A URL added, renamed or moved on purpose: regenerate the table and review its diff,
    DEBUG=1 SECRET_KEY=x DATABASE_URL=postgres://postgres@127.0.0.1:5432/billable \\
        .venv/bin/python -m tests.test_urls > tests/urls.txt
"""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

TABLE = Path(__file__).with_name("urls.txt")
# A value each path converter accepts, to build a concrete path from a route.
_SAMPLE = {
    "int": "7",
    "str": "x",
    "slug": "x",
    "path": "x/y",
    "uuid": "12345678-1234-5678-1234-567812345678",
}
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")


def url_table() -> list[tuple[str, str]]:
    """(namespaced name, the path pattern from the root), sorted; admin URLs are Django's own."""
    rows: list[tuple[str, str]] = []

    def walk(patterns: list, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace == "admin":
                    continue
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                rows.append((f"{namespace}{p.name}" if p.name else "", prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return sorted(rows)


def render(rows: list[tuple[str, str]]) -> str:
    return "".join(f"{name}\t{pattern}\n" for name, pattern in rows)


def _committed() -> list[tuple[str, str]]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    return [(name, pattern) for name, pattern in (line.split("\t") for line in lines)]


def test_every_url_name_and_path_is_the_committed_one():
    assert url_table() == _committed(), "URLs changed: on purpose? regenerate (module docstring)"


def test_every_route_resolves_to_its_own_name_and_reverses_to_its_path():
    routes = [(name, pattern) for name, pattern in url_table() if "^" not in pattern]
    assert len(routes) > 100
    for name, pattern in routes:
        kwargs = {key: _SAMPLE[conv or "str"] for conv, key in _CONVERTER.findall(pattern)}
        path = "/" + _CONVERTER.sub(lambda m: _SAMPLE[m[1] or "str"], pattern)
        assert resolve(path).view_name == name, (name, path)
        assert reverse(name, kwargs=kwargs) == path, name


def test_the_router_regex_routes_resolve_to_their_own_name():
    # DRF's routers write regexes: ^invoices/(?P<pk>[^/.]+)/$ -> invoices/7/
    routes = [(name, pattern) for name, pattern in url_table() if "^" in pattern and name]
    assert len(routes) > 20
    for name, pattern in routes:
        if name == "api-not-found":
            continue
        concrete = re.sub(r"\(\?P<\w+>[^)]*\)", "7", pattern)
        path = "/" + concrete.replace("^", "").replace("$", "")
        assert resolve(path).view_name == name, (name, path)
    assert resolve("/api/v1/no-such-thing/").view_name == "api-not-found"


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    django.setup()
    print(render(url_table()), end="")
