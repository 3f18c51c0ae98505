"""Payment allocation (SPEC 4): references first, then oldest due date, the rest unapplied."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from core.errors import BillingError
from invoicing.models import Invoice
from receivables import selectors
from receivables.allocation import (
    OpenInvoice,
    mask_card_numbers,
    plan_allocation,
    referenced_numbers,
)
from receivables.models import Allocation, Payment
from receivables.services import (
    allocation_apply,
    allocation_reverse,
    invoice_dispute,
    invoice_dispute_clear,
    payment_record,
)
from tests.factories import AccountFactory, CreditNoteFactory
from tests.world import final_invoice

D = Decimal
PAY_DATE = dt.date(2026, 3, 10)


def pay(account, amount, reference="", user=None, currency="USD", external_id=None, date=PAY_DATE):
    return payment_record(
        account=account,
        date=date,
        amount=D(amount),
        currency=currency,
        reference=reference,
        method="wire",
        user=user,
        external_id=external_id,
    )


def allocations_of(payment):
    return [(a.invoice.number, a.amount, a.date) for a in payment.allocations.order_by("id")]


# --- pure rules -----------------------------------------------------------------------------------


def test_referenced_numbers_in_order_once_case_insensitive():
    text = "pay inv-2026-00002 and INV-2026-00001; again INV-2026-00002, not INV-26-1"
    assert referenced_numbers(text) == ["INV-2026-00002", "INV-2026-00001"]


def test_plan_allocation_references_first_then_others_rest_unapplied():
    a, b, c = (
        OpenInvoice(1, "A", D("100")),
        OpenInvoice(2, "B", D("50")),
        OpenInvoice(3, "C", D("30")),
    )
    shares, rest = plan_allocation(D("170"), [b], [a, b, c])
    assert [(s.invoice_id, s.amount) for s in shares] == [(2, D("50")), (1, D("100")), (3, D("20"))]
    assert rest == D("0")
    shares, rest = plan_allocation(D("200"), [], [a])
    assert rest == D("100")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("card 4111 1111 1111 1111 thanks", "card **** **** **** 1111 thanks"),
        ("4111-1111-1111-1111", "**** **** **** 1111"),
        ("ref 4111111111111111", "ref **** **** **** 1111"),
        ("amex 378282246310005", "amex **** **** **** 0005"),
        # Not Luhn-valid: an account number, kept.
        ("acct 4111111111111112", "acct 4111111111111112"),
        # Too short / too long runs are kept.
        ("123456789012", "123456789012"),
        ("41111111111111111111", "41111111111111111111"),
        # Invoice numbers are never eaten.
        ("INV-2026-00001 4111111111111111", "INV-2026-00001 **** **** **** 1111"),
    ],
)
def test_mask_card_numbers(text, expected):
    assert mask_card_numbers(text) == expected


# --- allocation on PostgreSQL ---------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.mark.django_db
def test_exact_payment_pays_the_referenced_invoice(finance):
    acc = AccountFactory()
    older = final_invoice(acc, "300.00", due=dt.date(2026, 1, 1))
    inv = final_invoice(acc, "1000.00", due=dt.date(2026, 3, 2))
    payment = pay(acc, "1000.00", f"Invoice {inv.number}", user=finance)
    assert allocations_of(payment) == [(inv.number, D("1000.00"), PAY_DATE)]
    inv.refresh_from_db()
    older.refresh_from_db()
    assert inv.status == "paid"
    assert older.status == "approved"
    assert selectors.payment_unapplied(payment) == D("0.00")
    assert inv.history.first().history_user == finance
    assert payment.history.first().history_user == finance
    assert payment.allocations.get().history.first().history_user == finance


@pytest.mark.django_db
def test_partial_payment_leaves_invoice_partially_paid():
    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00")
    payment = pay(acc, "400.00", inv.number)
    assert allocations_of(payment) == [(inv.number, D("400.00"), PAY_DATE)]
    inv.refresh_from_db()
    assert inv.status == "partially_paid"
    assert selectors.invoice_open_amount(inv) == D("600.00")


@pytest.mark.django_db
def test_overpayment_goes_to_unapplied_cash():
    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00")
    payment = pay(acc, "1500.00", inv.number)
    assert allocations_of(payment) == [(inv.number, D("1000.00"), PAY_DATE)]
    assert selectors.payment_unapplied(payment) == D("500.00")
    rows = selectors.unapplied_cash()
    assert [(r.account.pk, r.currency, r.amount) for r in rows] == [(acc.pk, "USD", D("500.00"))]


@pytest.mark.django_db
def test_no_reference_pays_oldest_due_date_first_then_number():
    acc = AccountFactory()
    later = final_invoice(acc, "500.00", due=dt.date(2026, 2, 20), seq=3)
    tie_b = final_invoice(acc, "100.00", due=dt.date(2026, 1, 31), seq=2)
    tie_a = final_invoice(acc, "100.00", due=dt.date(2026, 1, 31), seq=1)
    payment = pay(acc, "450.00", "")
    assert allocations_of(payment) == [
        (tie_a.number, D("100.00"), PAY_DATE),
        (tie_b.number, D("100.00"), PAY_DATE),
        (later.number, D("250.00"), PAY_DATE),
    ]
    statuses = dict(Invoice.objects.values_list("number", "status"))
    assert statuses == {tie_a.number: "paid", tie_b.number: "paid", later.number: "partially_paid"}


@pytest.mark.django_db
def test_reference_to_another_accounts_invoice_is_ignored():
    acc, other = AccountFactory(), AccountFactory()
    theirs = final_invoice(other, "800.00")
    mine = final_invoice(acc, "300.00")
    payment = pay(acc, "500.00", f"pays {theirs.number}")
    assert allocations_of(payment) == [(mine.number, D("300.00"), PAY_DATE)]
    assert selectors.payment_unapplied(payment) == D("200.00")
    assert not Allocation.objects.filter(invoice=theirs).exists()


@pytest.mark.django_db
def test_reference_to_another_currency_or_draft_is_ignored():
    acc = AccountFactory()
    eur = final_invoice(acc, "800.00", currency="EUR")
    draft = final_invoice(acc, "200.00", status="draft")
    payment = pay(acc, "100.00", f"{eur.number} {draft.number}")
    assert allocations_of(payment) == []
    assert selectors.payment_unapplied(payment) == D("100.00")


@pytest.mark.django_db
def test_reference_to_a_disputed_invoice_is_skipped(finance):
    acc = AccountFactory()
    disputed = final_invoice(acc, "700.00", due=dt.date(2026, 1, 1))
    invoice_dispute(invoice=disputed, user=finance, reason="Hours contested")
    other = final_invoice(acc, "200.00", due=dt.date(2026, 2, 1))
    payment = pay(acc, "700.00", disputed.number)
    assert allocations_of(payment) == [(other.number, D("200.00"), PAY_DATE)]
    assert selectors.payment_unapplied(payment) == D("500.00")
    disputed.refresh_from_db()
    assert disputed.status == "approved"


@pytest.mark.django_db
def test_several_invoices_in_one_reference_in_order_of_appearance():
    acc = AccountFactory()
    first = final_invoice(acc, "100.00", due=dt.date(2026, 1, 1), seq=11)
    second = final_invoice(acc, "200.00", due=dt.date(2026, 2, 1), seq=12)
    third = final_invoice(acc, "300.00", due=dt.date(2026, 3, 1), seq=13)
    payment = pay(acc, "450.00", "INV-2026-00013, inv-2026-00012 and INV-2026-00013 again")
    assert allocations_of(payment) == [
        (third.number, D("300.00"), PAY_DATE),
        (second.number, D("150.00"), PAY_DATE),
    ]
    assert not Allocation.objects.filter(invoice=first).exists()


@pytest.mark.django_db
def test_credit_notes_reduce_what_allocation_takes():
    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00")
    CreditNoteFactory(invoice=inv, amount=D("250.00"), date=dt.date(2026, 2, 10))
    payment = pay(acc, "1000.00", inv.number)
    assert allocations_of(payment) == [(inv.number, D("750.00"), PAY_DATE)]
    inv.refresh_from_db()
    assert inv.status == "paid"
    assert selectors.payment_unapplied(payment) == D("250.00")


@pytest.mark.django_db
def test_payment_before_invoice_date_is_dated_on_the_invoice_date():
    acc = AccountFactory()
    inv = final_invoice(acc, "100.00", invoice_date=dt.date(2026, 3, 31), due=dt.date(2026, 4, 30))
    payment = pay(acc, "100.00", date=dt.date(2026, 3, 20))
    assert allocations_of(payment) == [(inv.number, D("100.00"), dt.date(2026, 3, 31))]


@pytest.mark.django_db
def test_card_number_in_reference_is_never_stored():
    acc = AccountFactory()
    payment = pay(acc, "10.00", "card 4111 1111 1111 1111")
    payment.refresh_from_db()
    assert payment.reference == "card **** **** **** 1111"
    assert all("4111 1111" not in h.reference for h in payment.history.all())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount,message",
    [("0", "greater than zero"), ("-5", "greater than zero"), ("1.005", "2 decimal places")],
)
def test_bad_amount_is_refused_and_nothing_is_written(amount, message):
    acc = AccountFactory()
    final_invoice(acc)
    with pytest.raises(BillingError, match=message):
        pay(acc, amount)
    assert Payment.objects.count() == 0 and Allocation.objects.count() == 0


@pytest.mark.django_db
def test_same_payment_id_is_refused():
    acc = AccountFactory()
    pay(acc, "10.00", external_id="P-1")
    with pytest.raises(BillingError, match="already recorded"):
        pay(acc, "10.00", external_id="P-1")
    assert Payment.objects.count() == 1


# --- by hand: apply, reverse ----------------------------------------------------------------------


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC), tick=False)
def test_apply_unapplied_cash_by_hand_dated_today(finance):
    acc = AccountFactory()
    payment = pay(acc, "500.00")  # no invoice yet: all unapplied
    inv = final_invoice(acc, "800.00")
    allocation = allocation_apply(payment=payment, invoice=inv, amount=D("300.00"), user=finance)
    assert (allocation.amount, allocation.date) == (D("300.00"), dt.date(2026, 3, 20))
    assert allocation.history.first().history_user == finance
    inv.refresh_from_db()
    assert inv.status == "partially_paid"
    assert selectors.payment_unapplied(payment) == D("200.00")


@pytest.mark.django_db
def test_apply_refuses_more_than_unapplied_or_open_and_changes_nothing(finance):
    acc, other = AccountFactory(), AccountFactory()
    payment = pay(acc, "500.00")
    small = final_invoice(acc, "100.00")
    theirs = final_invoice(other, "900.00")
    eur = final_invoice(acc, "900.00", currency="EUR")
    cases = [
        (small, "150.00", "has only USD 100.00 open"),
        (final_invoice(acc, "900.00"), "600.00", "has only USD 500.00 unapplied"),
        (theirs, "10.00", "another account"),
        (eur, "10.00", "is in EUR"),
        (final_invoice(acc, "50.00", status="draft"), "10.00", "not approved"),
    ]
    for invoice, amount, message in cases:
        with pytest.raises(BillingError, match=message):
            allocation_apply(payment=payment, invoice=invoice, amount=D(amount), user=finance)
    assert Allocation.objects.count() == 0
    assert set(Invoice.objects.values_list("status", flat=True)) == {"approved", "draft"}


@pytest.mark.django_db
@time_machine.travel(dt.datetime(2026, 3, 25, 12, tzinfo=dt.UTC), tick=False)
def test_reverse_allocation_records_reason_and_reopens_invoice(finance):
    acc = AccountFactory()
    inv = final_invoice(acc, "1000.00")
    payment = pay(acc, "1000.00", inv.number)
    allocation = payment.allocations.get()
    allocation_reverse(allocation=allocation, user=finance, reason="Bounced cheque")
    allocation.refresh_from_db()
    assert allocation.reversed_on == dt.date(2026, 3, 25)
    assert allocation.reversed_by == finance
    assert allocation.reversal_reason == "Bounced cheque"
    assert Allocation.objects.count() == 1  # recorded, never deleted
    inv.refresh_from_db()
    assert inv.status == "approved"
    assert selectors.invoice_open_amount(inv) == D("1000.00")
    assert selectors.payment_unapplied(payment) == D("1000.00")
    # As of a day before the reversal, the allocation still counted.
    assert selectors.invoice_open_amount(inv, dt.date(2026, 3, 24)) == D("0.00")
    with pytest.raises(BillingError, match="already reversed"):
        allocation_reverse(allocation=allocation, user=finance, reason="again")


@pytest.mark.django_db
def test_reverse_without_reason_is_refused(finance):
    acc = AccountFactory()
    inv = final_invoice(acc, "100.00")
    allocation = pay(acc, "100.00", inv.number).allocations.get()
    with pytest.raises(BillingError, match="reason is required"):
        allocation_reverse(allocation=allocation, user=finance, reason="  ")
    allocation.refresh_from_db()
    assert allocation.reversed_on is None
    inv.refresh_from_db()
    assert inv.status == "paid"


# --- disputes -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dispute_and_clear_are_recorded_with_the_user(finance):
    inv = final_invoice(AccountFactory())
    invoice_dispute(invoice=inv, user=finance, reason="Wrong rate")
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (True, "Wrong rate")
    with pytest.raises(BillingError, match="already disputed"):
        invoice_dispute(invoice=inv, user=finance, reason="again")
    invoice_dispute_clear(invoice=inv, user=finance)
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (False, "")
    history = list(
        inv.history.order_by("history_date").values_list(
            "disputed", "dispute_reason", "history_user"
        )
    )
    assert history[-2:] == [(True, "Wrong rate", finance.pk), (False, "", finance.pk)]
    with pytest.raises(BillingError, match="not disputed"):
        invoice_dispute_clear(invoice=inv, user=finance)


@pytest.mark.django_db
def test_dispute_needs_a_reason_and_a_final_invoice(finance):
    acc = AccountFactory()
    inv = final_invoice(acc)
    draft = final_invoice(acc, status="draft")
    with pytest.raises(BillingError, match="reason is required"):
        invoice_dispute(invoice=inv, user=finance, reason="")
    with pytest.raises(BillingError, match="not approved"):
        invoice_dispute(invoice=draft, user=finance, reason="x")
    assert not Invoice.objects.filter(disputed=True).exists()
