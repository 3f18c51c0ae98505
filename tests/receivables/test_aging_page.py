"""The AR aging page's cached report (receivables/aging_page.py) stays the computed report after
every kind of change, and the page's query count does not grow with the rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agreements.models import Account
from receivables.aging import aging_report
from receivables.aging_page import cached_aging_report
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
    assert cached.to_csv() == aging_report(as_of=AS_OF).to_csv()
    assert cached_aging_report(as_of=AS_OF) == cached  # and the next view is the cached one


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
