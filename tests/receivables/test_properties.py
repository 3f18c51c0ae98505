"""Properties: allocations never exceed an invoice's open amount or a payment's amount, also under
concurrent payments on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BillingError
from invoicing.models import Invoice
from receivables import selectors
from receivables.models import Allocation, Payment
from receivables.services import allocation_apply, allocation_reverse, payment_record
from tests.factories import AccountFactory, CreditNoteFactory
from tests.world import final_invoice

cents = st.integers(min_value=1, max_value=200_000).map(lambda c: Decimal(c) / 100)
operation = st.one_of(
    st.tuples(st.just("pay"), cents, st.lists(st.integers(0, 3), max_size=3)),
    st.tuples(st.just("apply"), cents, st.integers(0, 3)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
)


def _live(**filters) -> Decimal:
    total = Allocation.objects.filter(reversed_on__isnull=True, **filters).aggregate(
        s=Sum("amount")
    )["s"]
    return total or Decimal("0")


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    totals=st.lists(cents, min_size=1, max_size=4),
    credit=st.integers(0, 100),
    ops=st.lists(operation, min_size=1, max_size=8),
)
def test_allocations_never_exceed_open_amounts(totals, credit, ops):
    with transaction.atomic():
        acc = AccountFactory()
        invoices = [
            final_invoice(acc, str(t), due=dt.date(2026, 1, 1) + dt.timedelta(days=i))
            for i, t in enumerate(totals)
        ]
        if credit:
            CreditNoteFactory(invoice=invoices[0], amount=min(Decimal(credit), totals[0]))
        payments: list[Payment] = []
        for op in ops:
            try:
                if op[0] == "pay":
                    ref = " ".join(invoices[i % len(invoices)].number for i in op[2])
                    payments.append(
                        payment_record(
                            account=acc,
                            date=dt.date(2026, 2, 1),
                            amount=op[1],
                            currency="USD",
                            reference=ref,
                        )
                    )
                elif op[0] == "apply" and payments:
                    allocation_apply(
                        payment=payments[-1],
                        invoice=invoices[op[2] % len(invoices)],
                        amount=op[1],
                        user=None,
                    )
                elif op[0] == "reverse":
                    live = list(Allocation.objects.filter(reversed_on__isnull=True).order_by("id"))
                    if live:
                        allocation_reverse(
                            allocation=live[op[1] % len(live)], user=None, reason="t"
                        )
            except BillingError:
                pass  # refused (too much); the invariants below must still hold
            for invoice in invoices:
                open_amount = selectors.invoice_open_amount(invoice)
                assert open_amount >= 0
                status = Invoice.objects.get(pk=invoice.pk).status
                allocated = _live(invoice=invoice)
                if allocated == 0:
                    assert status == "approved"
                else:
                    assert status == ("paid" if open_amount == 0 else "partially_paid")
            for payment in payments:
                assert 0 <= _live(payment=payment) <= payment.amount
        transaction.set_rollback(True)


@pytest.mark.django_db(transaction=True)
def test_concurrent_payments_never_over_allocate():
    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def pay(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            payment_record(
                account=acc,
                date=dt.date(2026, 2, 1),
                amount=Decimal("600.00"),
                currency="USD",
                reference=inv.number,
                external_id=f"C-{n}",
            )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert Payment.objects.count() == 4
    assert _live(invoice=inv) == Decimal("1000.00")
    assert sorted(Allocation.objects.values_list("amount", flat=True)) == [
        Decimal("400.00"),
        Decimal("600.00"),
    ]
    inv.refresh_from_db()
    assert inv.status == "paid"
