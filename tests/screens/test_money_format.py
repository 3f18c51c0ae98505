"""Money is shown one way on every page (issue 15): `USD 9,451.48`. Every page of the permission
matrix that answers GET with HTML is rendered, with data, for each role allowed to open it, and
its visible text is searched for amounts that skipped the money filter: a Decimal with more than
two places (`9451.48000`) or a four-digit amount without its thousands separator (`9451.48`)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from core import roles
from receivables.services import payment_record
from tests.api.permission_table import MATRIX, PERSONA_ROLE
from tests.factories import UserFactory
from tests.world import invoice_with_lines, make_world

pytestmark = pytest.mark.django_db

RAW_DECIMAL = re.compile(r"(?<![\d.,])\d+\.\d{3,}(?![\d,])")
NO_SEPARATOR = re.compile(r"(?<![\d,.])\d{4,}\.\d{2}(?![\d])")
HIDDEN = re.compile(r"<(script|style|textarea)\b.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def _html_pages() -> list[tuple[str, int]]:
    return [
        (name, index)
        for name, probes in MATRIX.items()
        for index, probe in enumerate(probes)
        if probe.fmt == "page" and probe.method == "GET" and probe.capability
    ]


def visible_text(html: str) -> str:
    return HIDDEN.sub(" ", html)


def money_problems(html: str) -> list[str]:
    text = visible_text(html)
    return RAW_DECIMAL.findall(text) + NO_SEPARATOR.findall(text)


def test_the_check_finds_unformatted_money():
    assert money_problems("<td>9451.48000000000</td>") == ["9451.48000000000"]
    assert money_problems("<td>Total 9451.48</td>") == ["9451.48"]
    assert money_problems('<td>USD 9,451.48</td><input value="9451.48">') == []
    assert money_problems("<p>2026-01-31 · 12 rows · 1.5 h · comma (1.500,00)</p>") == []


@pytest.mark.parametrize(("name", "index"), _html_pages())
def test_every_page_shows_money_one_way(name, index, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    cache.clear()
    world = make_world()
    # Amounts past a thousand, so a missing separator shows.
    big = invoice_with_lines(
        world.account,
        ["9451.48"],
        agreement=world.agreement,
        year=2025,
        seq=900,
        period=dt.date(2025, 6, 1),
        invoice_date=dt.date(2026, 1, 31),
        pdf=True,
    )
    payment_record(
        account=world.account,
        date=dt.date(2026, 1, 21),
        amount=Decimal("12345.67"),
        currency="USD",
        reference=big.number,
    )
    probe = MATRIX[name][index]
    url = reverse(name, kwargs=probe.kwargs(world))
    query = probe.extra.get("query")
    holders = [
        role
        for persona, role in PERSONA_ROLE.items()
        if role
        and role in roles.CAPABILITIES[probe.capability]
        and (probe.outcomes is None or probe.outcomes[persona] == 200)
    ]
    assert holders, name
    for role in holders:
        client = Client()
        client.force_login(UserFactory(roles=[role]))
        response = client.get(url, query or {})
        assert response.status_code == 200, (name, role)
        if not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        assert money_problems(html) == [], (name, role)
