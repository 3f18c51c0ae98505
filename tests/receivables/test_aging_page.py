"""The AR aging page's cached report (receivables/aging_page.py) stays the computed report after
every kind of change, a page at a time as well as whole, and the page's query count does not
grow with the rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Account
from receivables.aging import aging_report
from receivables.aging_page import cached_aging_page, cached_aging_report
from receivables.services import allocation_reverse, payment_record
from tests.factories import AccountFactory, CreditNoteFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)
URL = "/receivables/aging/?as_of=2026-06-30"


def pay(account, amount, reference=""):
    return payment_record(
        account=account,
        date=dt.date(2026, 6, 1),
        amount=Decimal(amount),
        currency="USD",
        reference=reference,
        method="wire",
        user=None,
    )


def same_as_computed() -> None:
    cached = cached_aging_report(as_of=AS_OF)
    computed = aging_report(as_of=AS_OF)
    assert cached.to_csv() == computed.to_csv()
    assert cached_aging_report(as_of=AS_OF) == cached  # and the next view is the cached one
    for size in (1, 2, 100):  # and so is every page the page view shows, and the totals
        pages = [cached_aging_page(as_of=AS_OF, number=n, size=size) for n in (1, 2, 3)]
        for n, (page, totals) in enumerate(pages, start=1):
            assert totals == computed.totals and page.paginator.count == len(computed.rows)
            assert list(page) == computed.rows[(n - 1) * size : n * size] or (
                n > 1 and n > page.paginator.num_pages  # a page past the end shows the last
            )


def test_cached_report_follows_payments_allocations_credit_notes_and_reversals(finance):
    acc = AccountFactory(external_id="A-1", name="Acme")
    inv = final_invoice(acc, "1000.00", due=dt.date(2026, 5, 1), invoice_date=dt.date(2026, 4, 1))
    same_as_computed()
    before = cached_aging_report(as_of=AS_OF).to_csv()
    pay(acc, "300.00", inv.number)  # a payment and its allocation
    same_as_computed()
    assert cached_aging_report(as_of=AS_OF).to_csv() != before
    pay(acc, "90.00")  # unapplied cash
    same_as_computed()
    CreditNoteFactory(invoice=inv, amount=Decimal("50.00"), date=dt.date(2026, 6, 2))
    same_as_computed()
    allocation_reverse(allocation=inv.allocations.first(), user=finance, reason="bounced")
    same_as_computed()
    final_invoice(acc, "200.00", due=dt.date(2026, 6, 20), invoice_date=dt.date(2026, 5, 21))
    same_as_computed()
    Account.objects.filter(pk=acc.pk).update(name="Acme Renamed")  # bulk, no signals
    same_as_computed()
    assert "Acme Renamed" in cached_aging_report(as_of=AS_OF).to_csv()
    with connection.cursor() as cursor:  # raw SQL, past the ORM
        cursor.execute(
            "UPDATE receivables_payment SET amount = amount + 10 WHERE account_id = %s", [acc.pk]
        )
    same_as_computed()


def _page(client):
    with CaptureQueriesContext(connection) as ctx:
        html = client.get(URL).content.decode()
    return len(ctx.captured_queries), html


def test_aging_page_query_count_does_not_grow_with_rows(client_for, finance):
    def accounts(n: int) -> None:
        for _ in range(n):
            acc = AccountFactory()
            final_invoice(acc, "100.00", due=dt.date(2026, 6, 1), invoice_date=dt.date(2026, 5, 1))
            pay(acc, "30.00")

    client = client_for(finance)
    accounts(40)
    first, _ = _page(client)  # computes the report
    again, _ = _page(client)  # from the cache
    accounts(80)
    many, html = _page(client)
    assert first == many and again <= first
    assert html.count("Statement PDF") == 100 and "Page 1 of 2 (120 rows)" in html
    assert "USD 8,400.00" in html  # the TOTAL row is the whole report's: 120 x 70.00


def test_cached_invoice_list_totals_follow_allocations_and_credit_notes(finance):
    from invoicing.models import Invoice
    from receivables.aging_page import cached_open_totals
    from receivables.settlement import open_totals

    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00", due=dt.date(2026, 5, 1), invoice_date=dt.date(2026, 4, 1))
    qs = Invoice.objects.filter(account=acc)
    assert cached_open_totals(qs) == open_totals(qs)
    pay(acc, "300.00", inv.number)
    assert cached_open_totals(qs) == open_totals(qs) and cached_open_totals(qs)["USD"][2] == 700
    CreditNoteFactory(invoice=inv, amount=Decimal("50.00"), date=dt.date(2026, 6, 2))
    assert cached_open_totals(qs)["USD"][2] == Decimal("650.00") == open_totals(qs)["USD"][2]
    allocation_reverse(allocation=inv.allocations.first(), user=finance, reason="bounced")
    assert cached_open_totals(qs) == open_totals(qs) and cached_open_totals(qs)["USD"][2] == 950
    assert cached_open_totals(qs.none()) == {}


def test_aging_page_reads_only_the_page_it_shows_and_survives_an_evicted_page(finance):
    """Each page's rows are a cache entry of their own beside the count and totals: a view reads
    those two entries, not the report; a page evicted alone is computed again."""
    from django.core.cache import cache

    for i in range(5):
        acc = AccountFactory(external_id=f"A-{i}", name=f"Customer {i}")
        final_invoice(acc, "100.00", due=dt.date(2026, 6, 1), invoice_date=dt.date(2026, 5, 1))
    computed = aging_report(as_of=AS_OF)
    page, totals = cached_aging_page(as_of=AS_OF, number="2", size=2)
    assert list(page) == computed.rows[2:4] and page.number == 2
    assert page.paginator.num_pages == 3 and totals == computed.totals
    from receivables.aging_page import _version

    key = f"receivables:aging-page:{AS_OF.isoformat()}:2:{_version()}"
    assert cache.get(key) == (5, computed.totals)  # the head: the count and the totals
    assert [cache.get(f"{key}:{n}") for n in (1, 2, 3, 4)] == [
        computed.rows[0:2],
        computed.rows[2:4],
        computed.rows[4:],
        None,
    ]
    cache.delete(f"{key}:3")
    page, _ = cached_aging_page(as_of=AS_OF, number="3", size=2)
    assert list(page) == computed.rows[4:] and page.number == 3
    page, _ = cached_aging_page(as_of=AS_OF, number="x", size=2)  # as Paginator.get_page reads it
    assert page.number == 1 and list(page) == computed.rows[:2]
