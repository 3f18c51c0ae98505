"""6. Pages against an empty authenticated page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.common import (
    PAGE_REQUESTS,
    Context,
    bench_result,
    log,
    unavailable,
)

# -- 6. pages ------------------------------------------------------------------------------------


def pages(ctx: Context) -> list[tuple[str, str, str, str]]:
    """(benchmark, URL name, role of the user, query string) of every page measured."""
    from core import roles

    period = f"?period={ctx.files.firm.start:%Y-%m}"
    return [
        ("page_dashboard", "timesheets:dashboard", roles.SERVICES_MANAGER, ""),
        ("page_review", "invoicing:review", roles.BILLING_ADMIN, period),
        ("page_aging", "receivables:aging", roles.FINANCE, ""),
        ("page_invoices", "invoicing:list", roles.BILLING_ADMIN, ""),
        ("page_customers", "records:customers", roles.BILLING_ADMIN, ""),
        ("page_agreements", "agreements:list", roles.BILLING_ADMIN, ""),
        ("page_entries", "records:entries", roles.SERVICES_MANAGER, ""),
        ("page_history", "records:history", roles.AUDITOR, ""),
    ]


def case_pages(ctx: Context):
    from django.conf import settings
    from django.urls import clear_url_caches

    settings.ROOT_URLCONF = "bench.urls"
    clear_url_caches()
    n = PAGE_REQUESTS[ctx.args.scale]
    for name, url_name, role, query in pages(ctx):
        yield _page(name, url_name, role, query, reps=n)


def _page(name: str, url_name: str, role: str, query: str, *, reps: int) -> dict[str, Any]:
    """One page against the empty page, requested by a user of `role`: latency percentiles."""
    from django.urls import reverse

    from bench import harness

    client = _client(f"bench-{name}", role)
    cand = harness.Side(f"GET {url_name}{query}")
    base = harness.Side("GET an empty authenticated page (base template, navigation)")
    try:
        url = reverse(url_name) + query
    except Exception as exc:  # noqa: BLE001
        unavailable(cand, exc)
        url = None
    empty = reverse("bench-empty")
    quiet = lambda msg: None  # noqa: E731 - one line per request would drown the log
    run_url, run_empty = (_get(client, url) if url else None), _get(client, empty)
    harness.warm_up_and_pair(
        reps=reps,
        candidate=cand,
        baseline=base,
        run_candidate=run_url,
        run_baseline=run_empty,
        warm_candidate=thrice(run_url) if run_url else None,
        warm_baseline=thrice(run_empty),
        log=quiet,
        note=None,
    )
    for side in (cand, base):
        if side.samples:
            ms = [s.seconds * 1000 for s in side.samples]
            side.extra["p50_ms"] = round(harness.percentile(ms, 50), 1)
            side.extra["p95_ms"] = round(harness.percentile(ms, 95), 1)
            side.extra["requests"] = len(ms)
    log(f"  {name}: p50 {cand.extra.get('p50_ms')} ms vs {base.extra.get('p50_ms')} ms")
    return bench_result(
        name,
        None,
        cand,
        base,
        same=None,
        notes="In-process Django test client, logged in; latency per request "
        "and queries per request.",
    )


def _client(username: str, role: str):
    """A test client logged in as `username` (made with `role` the first time)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def _get(client: Any, path: str) -> Callable[[], Any]:
    """One measured GET of `path`; anything but 200 is an error."""
    from bench import harness

    def run() -> harness.Sample:
        sample, response = harness.measure(lambda: client.get(path))
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        return sample

    return run


def thrice(run: Callable[[], Any]) -> Callable[[], list[Any]]:
    """A page's warm-up: three requests."""
    return lambda: [run() for _ in range(3)]
