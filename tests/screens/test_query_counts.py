"""Query counts stay flat on the finance lists (issue 15): the same number of queries for 5 rows
as for 50, so a page never runs one query per row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from receivables.services import payment_record
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

PAGES = [
    ("receivables:payments", {}),
    ("receivables:unapplied", {}),
    ("receivables:aging", {"as_of": "2026-04-15"}),
    ("receivables:dunning", {}),
    ("invoicing:list", {}),
    ("records:customers", {}),
]


def _grow(count: int, start: int) -> None:
    """`count` customers, each with an invoice, a payment that pays part of it and unapplied cash."""
    for n in range(start, start + count):
        account = AccountFactory(external_id=f"ACC-{n}", name=f"Customer {n}")
        final_invoice(account, "1500.00", due=dt.date(2026, 2, 1), seq=n)
        payment_record(
            account=account, date=dt.date(2026, 3, 1), amount=Decimal("200.00"), currency="USD"
        )
        payment_record(
            account=account, date=dt.date(2026, 3, 2), amount=Decimal("2000.00"), currency="USD"
        )


def _count(client, name: str, query: dict) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse(name), query)
    assert response.status_code == 200, name
    return len(ctx.captured_queries)


def test_finance_lists_cost_the_same_for_5_and_50_rows(client_for, finance):
    client = client_for(finance)
    _grow(5, 1)
    small = {name: _count(client, name, query) for name, query in PAGES}
    _grow(45, 6)
    large = {name: _count(client, name, query) for name, query in PAGES}
    assert large == small
