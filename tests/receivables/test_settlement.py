"""receivables/settlement.py: the Python and ORM forms of the open amount (as of a date) agree on
random invoices (rejected ones, credit notes, partial and reversed allocations), the aging's SQL
sums to the same open amounts, and the payment status written is the Python rule's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import settlement as seam
from core.money import ZERO
from invoicing.models import Invoice
from receivables import settlement
from receivables.aging import aging_report
from receivables.settlement import AllocationFact, CreditFact
from tests.factories import AccountFactory, AllocationFactory, CreditNoteFactory, PaymentFactory
from tests.world import final_invoice

START = dt.date(2026, 1, 1)
cents = st.integers(min_value=1, max_value=100_000).map(lambda c: Decimal(c) / 100)
day = st.integers(0, 90).map(lambda n: START + dt.timedelta(days=n))
allocation = st.tuples(cents, day, st.one_of(st.none(), st.integers(0, 40)))
invoice = st.fixed_dictionaries(
    {
        "total": cents,
        "status": st.sampled_from(["approved", "sent", "partially_paid", "paid", "rejected"]),
        "allocations": st.lists(allocation, max_size=4),
        "credits": st.lists(st.tuples(cents, day), max_size=2),
    }
)


def _build(account, spec, seq):
    inv = final_invoice(
        account, str(spec["total"]), due=dt.date(2026, 2, 1), status=spec["status"], seq=seq
    )
    facts, credits = [], []
    for amount, date, reversed_after in spec["allocations"]:
        reversed_on = None if reversed_after is None else date + dt.timedelta(days=reversed_after)
        payment = PaymentFactory(account=account, amount=amount, date=date)
        AllocationFactory(
            payment=payment,
            invoice=inv,
            amount=amount,
            date=date,
            reversed_on=reversed_on,
            reversal_reason="Bounced" if reversed_on else "",
        )
        facts.append(AllocationFact(amount, date, reversed_on))
    for amount, date in spec["credits"]:
        CreditNoteFactory(invoice=inv, amount=amount, date=date)
        credits.append(CreditFact(amount, date))
    return inv, facts, credits


@pytest.mark.django_db
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    specs=st.lists(invoice, min_size=1, max_size=4),
    as_of=st.one_of(st.none(), day),
)
def test_python_and_orm_open_amount_agree(specs, as_of):
    with transaction.atomic():
        account = AccountFactory()
        built = [_build(account, spec, 900 + i) for i, spec in enumerate(specs)]
        expected = {
            inv.pk: settlement.open_amount(
                total=inv.total,
                status=inv.status,
                allocations=facts,
                credits=credits,
                as_of=as_of,
            )
            for inv, facts, credits in built
        }
        qs = Invoice.objects.filter(account=account)
        orm = dict(settlement.annotate_open_amount(qs, as_of).values_list("pk", "open_amount"))
        assert orm == expected
        # The seam invoicing reads through is the same rule.
        assert dict(seam.annotate(qs, as_of).values_list("pk", "open_amount")) == expected
        for inv, _, _ in built:
            assert settlement.invoice_open_amount(inv, as_of) == expected[inv.pk]
        # The set-based totals (the invoice list's) are the sums of the same open amounts.
        sums: dict[str, list] = {}
        for inv, _, _ in built:
            item = sums.setdefault(inv.currency, [0, ZERO, ZERO])
            item[0] += 1
            item[1] += inv.total
            item[2] += expected[inv.pk]
        totals = settlement.open_totals(qs, as_of)
        assert {c: list(t) for c, t in totals.items()} == sums
        assert seam.totals(qs, as_of) == totals

        # The aging's SQL: its buckets sum to the open amounts of the final invoices dated on
        # or before the day (all of these invoices are dated 2026-01-02).
        if as_of is not None:
            report = aging_report(as_of=as_of)
            buckets = sum((sum(r.buckets, ZERO) for r in report.rows), ZERO)
            final = [inv for inv, _, _ in built if inv.is_final and inv.invoice_date <= as_of]
            assert buckets == sum((expected[inv.pk] for inv in final), ZERO)
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=invoice, sent=st.booleans())
def test_settlement_sync_writes_the_python_payment_status(spec, sent):
    with transaction.atomic():
        account = AccountFactory()
        inv, facts, credits = _build(account, spec, 990)
        if sent:
            Invoice.objects.filter(pk=inv.pk).update(sent_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
        settlement.settlement_sync(invoice_ids=[inv.pk], user=None)
        allocated = sum((a.amount for a in facts if settlement.allocation_counts(a)), ZERO)
        open_now = settlement.open_amount(
            total=inv.total, status=spec["status"], allocations=facts, credits=credits
        )
        expected = settlement.payment_status(
            status=spec["status"], sent=sent, allocated=allocated, open_amount=open_now
        )
        assert Invoice.objects.get(pk=inv.pk).status == expected
        if spec["status"] == "rejected":
            assert expected == "rejected"
        elif allocated > 0:
            assert expected == ("paid" if open_now <= 0 else "partially_paid")
        else:
            assert expected == ("sent" if sent else "approved")
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_invoice_set_disputed_is_the_one_writer_with_its_user(finance):
    inv = final_invoice(AccountFactory(), "100.00", seq=999)
    settlement.invoice_set_disputed(invoice=inv, reason="Hours wrong", user=finance)
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (True, "Hours wrong")
    assert inv.history.first().history_user == finance
    settlement.invoice_set_disputed(invoice=inv, reason="", user=finance, customer="a@b.example")
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (False, "")
    assert inv.history.first().history_change_reason == "portal: a@b.example"
