"""Keyboard order on a main page (issue 15): from the top, Tab reaches the skip link first (and
it shows), then the brand and the navigation in reading order, then the signed-in user's links,
then the main content's first control; the skip link moves focus to main, so the next Tab lands
on that first control, past the navigation."""

from __future__ import annotations

import pytest

from tests.browser import log_in
from tests.factories import AccountFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """() => { const e = document.activeElement;
  const r = e.getBoundingClientRect();
  return {tag: e.tagName, id: e.id, text: (e.innerText || e.value || '').trim(),
          href: e.getAttribute('href'), inMain: !!e.closest('main'),
          visible: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0}; }"""

# Every control a Tab stops at, in document order, as the browser would reach them.
ORDER = """() => [...document.querySelectorAll(
    'a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select, textarea')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden'
          && e.tabIndex >= 0)
  .map(e => ({text: (e.innerText || e.value || '').trim(), href: e.getAttribute('href'),
              inMain: !!e.closest('main'), nav: !!e.closest('nav[aria-label=Main]')}))"""


def _stops(page, count: int) -> list[dict]:
    stops = []
    for _ in range(count):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    return stops


def test_tab_order_runs_skip_link_navigation_then_main(page, live_server, billing_admin):
    AccountFactory(external_id="ACC-T", name="Tab Order Ltd")
    log_in(page, billing_admin)
    page.goto("/customers/")
    order = page.evaluate(ORDER)
    before_main = [c for c in order if not c["inMain"]]
    nav = [c["text"] for c in order if c["nav"]]
    first_in_main = next(c for c in order if c["inMain"])
    assert len(nav) >= 5 and "Customers" in nav

    stops = _stops(page, len(before_main) + 1)
    assert stops[0]["text"] == "Skip to content" and stops[0]["href"] == "#content"
    assert stops[0]["visible"], "the skip link shows when it has focus"
    assert stops[1]["text"] == "Billable"  # the brand, home
    texts = [s["text"] for s in stops]
    assert texts[2 : 2 + len(nav)] == nav  # the navigation, in reading order
    assert [s["text"] for s in stops[2 + len(nav) : len(before_main)]] == [
        "bella.admin",
        "Log out",
    ]
    assert all(s["visible"] and not s["inMain"] for s in stops[: len(before_main)])
    landed = stops[len(before_main)]
    assert landed["inMain"] and (landed["text"], landed["href"]) == (
        first_in_main["text"],
        first_in_main["href"],
    )

    page.reload()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # follow the skip link
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    after_skip = page.evaluate(FOCUSED)
    assert after_skip["inMain"] and (after_skip["text"], after_skip["href"]) == (
        first_in_main["text"],
        first_in_main["href"],
    )
