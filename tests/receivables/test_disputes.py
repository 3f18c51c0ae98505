"""Disputes: opening keeps the invoice out of allocation and dunning; resolution by credit note
(four-eyes above the configured amount), rejection, re-bill; history; KPIs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from core.errors import BillingError
from invoicing.models import CreditNote, Invoice
from receivables import disputes, selectors
from receivables.dunning import dunning_run
from receivables.models import Dispute, DisputeMessage, Reminder
from receivables.services import payment_record
from tests.factories import AccountFactory, UserFactory
from tests.world import final_invoice, invoice_with_lines

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

D = Decimal
NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "500.00"
    settings.BILLING_DISPUTE_CATEGORIES = {
        "overbilling": ("Overbilling", 10),
        "outage": ("Service outage credit", 15),
        "other": ("Other", 20),
    }


def _open(invoice, user, lines=None, category="overbilling", message="Line 2 is too many hours"):
    with time_machine.travel(NOW, tick=False):
        return disputes.dispute_open(
            invoice=invoice, category=category, message=message, lines=lines, user=user
        )


@pytest.mark.django_db
def test_open_on_lines_flags_the_invoice_and_records_the_thread(finance):
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["600.00", "400.00"])
    line2 = inv.lines.get(position=2)
    dispute = _open(inv, finance, lines=[line2])
    inv.refresh_from_db()
    assert (inv.disputed, inv.dispute_reason) == (True, "Line 2 is too many hours")
    assert (dispute.status, dispute.category, dispute.sla_days) == ("open", "overbilling", 10)
    assert dispute.opened_at == NOW
    assert dispute.sla_due_at == NOW + dt.timedelta(days=10)
    assert list(dispute.lines.all()) == [line2]
    assert list(dispute.messages.values_list("body", "author__username")) == [
        ("Line 2 is too many hours", "fiona.finance")
    ]
    assert dispute.history.get().history_user == finance
    assert inv.history.order_by("-history_id").first().history_user == finance


@pytest.mark.django_db
def test_open_dispute_is_skipped_by_allocation_and_dunning_until_resolved(finance):
    acc = AccountFactory(billing_email="ap@acme.example")
    disputed = invoice_with_lines(acc, ["1000.00"], due=dt.date(2026, 2, 1), pdf=True)
    other = final_invoice(acc, "300.00", due=dt.date(2026, 2, 20), pdf=True)
    _open(disputed, finance)
    payment = payment_record(
        account=acc, date=dt.date(2026, 3, 1), amount=D("1000.00"), currency="USD", user=finance
    )
    assert list(payment.allocations.values_list("invoice__number", "amount")) == [
        (other.number, D("300.00"))
    ]
    assert dunning_run(as_of=dt.date(2026, 3, 10)) == []
    assert mail.outbox == []
    dispute = disputed.disputes.get()
    disputes.dispute_reject(dispute=dispute, user=finance, reason="All hours were worked")
    disputed.refresh_from_db()
    assert (disputed.disputed, disputed.dispute_reason) == (False, "")
    sent = dunning_run(as_of=dt.date(2026, 3, 10))
    assert [(r.invoice_id, r.level, r.status) for r in sent] == [
        (disputed.pk, 7, "superseded"),
        (disputed.pk, 30, "sent"),
    ]


@pytest.mark.django_db
def test_refused_openings_change_nothing(finance):
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["100.00"])
    other = invoice_with_lines(acc, ["50.00"])
    draft = Invoice.objects.create(
        account=acc,
        currency="USD",
        period=dt.date(2026, 2, 1),
        invoice_date=dt.date(2026, 2, 28),
        due_date=dt.date(2026, 3, 30),
    )
    cases = [
        (dict(invoice=draft), "is not approved; only final invoices are disputed"),
        (dict(invoice=inv, category="nope"), "Unknown dispute category 'nope'"),
        (dict(invoice=inv, message="   "), "A message is required."),
        (dict(invoice=inv, lines=[other.lines.get()]), "A disputed line is not on invoice"),
    ]
    for overrides, message in cases:
        kwargs = {"category": "other", "message": "Wrong", "user": finance, **overrides}
        with pytest.raises(BillingError, match=message):
            disputes.dispute_open(**kwargs)
    assert Dispute.objects.count() == 0
    assert DisputeMessage.objects.count() == 0
    assert Invoice.objects.filter(disputed=True).count() == 0
    _open(inv, finance)
    with pytest.raises(BillingError, match=r"INV-2026-\d{5} is already disputed"):
        _open(inv, finance)
    assert Dispute.objects.count() == 1


@pytest.mark.django_db
def test_credit_up_to_the_four_eyes_amount_is_issued_at_once(finance):
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["600.00", "400.00"])
    dispute = _open(inv, finance)
    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False):
        dispute = disputes.dispute_credit(
            dispute=dispute, amount=D("500.00"), reason="Line 2 billed twice", user=finance
        )
    note = dispute.credit_note
    assert (dispute.status, dispute.resolved_by, dispute.credit_proposed_by) == (
        "credited",
        finance,
        finance,
    )
    assert (note.amount, note.created_by, note.reason) == (
        D("500.00"),
        finance,
        f"Dispute #{dispute.pk}: Line 2 billed twice",
    )
    assert note.number.startswith("CN-2026-")
    assert selectors.invoice_open_amount(inv) == D("500.00")
    inv.refresh_from_db()
    assert inv.disputed is False
    assert dispute.messages.last().body == f"Credit note {note.number} for USD 500.00 issued."


@pytest.mark.django_db
def test_credit_above_the_four_eyes_amount_needs_another_user(finance, billing_admin):
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["1000.00"])
    dispute = _open(inv, finance)
    dispute = disputes.dispute_credit(
        dispute=dispute, amount=D("500.01"), reason="Outage in March", user=finance
    )
    assert dispute.status == "pending_approval"
    assert CreditNote.objects.count() == 0
    inv.refresh_from_db()
    assert inv.disputed is True
    with pytest.raises(BillingError, match="Four-eyes rule"):
        disputes.dispute_credit_approve(dispute=dispute, user=finance)
    assert CreditNote.objects.count() == 0
    assert Dispute.objects.get().status == "pending_approval"
    with pytest.raises(BillingError, match="already has a credit awaiting approval"):
        disputes.dispute_credit(dispute=dispute, amount=D("1.00"), reason="x", user=finance)
    dispute = disputes.dispute_credit_approve(dispute=dispute, user=billing_admin)
    assert (dispute.status, dispute.credit_proposed_by, dispute.resolved_by) == (
        "credited",
        finance,
        billing_admin,
    )
    assert (dispute.credit_note.amount, dispute.credit_note.created_by) == (
        D("500.01"),
        billing_admin,
    )


@pytest.mark.django_db
def test_declined_credit_reopens_and_over_open_amount_is_refused(finance, billing_admin):
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["800.00"])
    dispute = _open(inv, finance)
    dispute = disputes.dispute_credit(dispute=dispute, amount=D("700.00"), reason="x", user=finance)
    dispute = disputes.dispute_credit_decline(
        dispute=dispute, user=billing_admin, reason="Only the outage day"
    )
    assert (dispute.status, dispute.credit_amount, dispute.credit_proposed_by) == (
        "open",
        None,
        None,
    )
    internal = dispute.messages.get(internal=True)
    assert internal.body == "Proposed credit of USD 700.00 declined: Only the outage day"
    with pytest.raises(BillingError, match="has USD 800.00 open; cannot credit USD 900.00"):
        disputes.dispute_credit(dispute=dispute, amount=D("900.00"), reason="x", user=finance)
    assert CreditNote.objects.count() == 0
    assert Dispute.objects.get().status == "open"


@pytest.mark.django_db
def test_reject_needs_a_reason_and_closed_disputes_refuse_more(finance):
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    dispute = _open(inv, finance)
    with pytest.raises(BillingError, match="A reason is required."):
        disputes.dispute_reject(dispute=dispute, user=finance, reason=" ")
    dispute = disputes.dispute_reject(dispute=dispute, user=finance, reason="Hours are in the log")
    assert (dispute.status, dispute.resolution_note) == ("rejected", "Hours are in the log")
    assert dispute.messages.last().body == "Dispute rejected: Hours are in the log"
    for action in (
        lambda: disputes.dispute_comment(dispute=dispute, message="more", user=finance),
        lambda: disputes.dispute_credit(dispute=dispute, amount="1.00", reason="x", user=finance),
        lambda: disputes.dispute_rebill(dispute=dispute, user=finance, reason="x"),
    ):
        with pytest.raises(BillingError, match="is rejected; only an open dispute can be"):
            action()
    assert dispute.messages.count() == 2


@pytest.mark.django_db
def test_rebill_credits_the_open_amount_and_copies_the_lines_onto_a_draft(finance, settings):
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "1000.00"  # the whole 1000.00 by one user
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["600.00", "400.00"], po_number="PO-7")
    dispute = _open(inv, finance)
    with time_machine.travel(dt.datetime(2026, 3, 12, 12, 0, tzinfo=dt.UTC), tick=False):
        dispute = disputes.dispute_rebill(dispute=dispute, user=finance, reason="Wrong PO")
    assert (dispute.status, dispute.credit_rebill) == ("rebilled", True)
    assert (dispute.credit_note.amount, dispute.credit_note.created_by) == (D("1000.00"), finance)
    draft = dispute.rebill_invoice
    assert (draft.status, draft.po_number, draft.period, draft.total) == (
        "draft",
        "PO-7",
        inv.period,
        D("1000.00"),
    )
    assert (draft.invoice_date, draft.due_date) == (dt.date(2026, 3, 12), dt.date(2026, 4, 11))
    assert list(draft.lines.values_list("description", "amount", "kind")) == [
        ("Consulting 1", D("600.00"), "adjustment"),
        ("Consulting 2", D("400.00"), "adjustment"),
    ]
    assert draft.adjusted_by == finance  # so finance may not approve the re-bill itself
    assert selectors.invoice_open_amount(inv) == D("0.00")


@pytest.mark.django_db
def test_rebill_above_the_four_eyes_amount_needs_another_user(finance, billing_admin):
    # Threshold 500.00: a re-bill credits the whole 1000.00 open, so one user may not do it.
    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["600.00", "400.00"])
    dispute = _open(inv, finance)
    dispute = disputes.dispute_rebill(dispute=dispute, user=finance, reason="Wrong PO")
    assert (dispute.status, dispute.credit_amount, dispute.credit_rebill) == (
        "pending_approval",
        D("1000.00"),
        True,
    )
    assert CreditNote.objects.count() == 0
    assert Invoice.objects.filter(status="draft").count() == 0
    assert selectors.invoice_open_amount(inv) == D("1000.00")
    with pytest.raises(BillingError, match="Four-eyes rule"):
        disputes.dispute_credit_approve(dispute=dispute, user=finance)
    with pytest.raises(BillingError, match="already has a credit awaiting approval"):
        disputes.dispute_rebill(dispute=dispute, user=finance, reason="again")
    assert (CreditNote.objects.count(), Dispute.objects.get().status) == (0, "pending_approval")
    dispute = disputes.dispute_credit_approve(dispute=dispute, user=billing_admin)
    assert (dispute.status, dispute.credit_proposed_by, dispute.resolved_by) == (
        "rebilled",
        finance,
        billing_admin,
    )
    assert (dispute.credit_note.amount, dispute.credit_note.created_by) == (
        D("1000.00"),
        billing_admin,
    )
    assert dispute.credit_note.reason == f"Dispute #{dispute.pk}, re-billed: Wrong PO"
    assert dispute.rebill_invoice.total == D("1000.00")
    assert selectors.invoice_open_amount(inv) == D("0.00")
    inv.refresh_from_db()
    assert inv.disputed is False


@pytest.mark.django_db
def test_proposed_rebill_is_refused_when_the_open_amount_moved(finance, billing_admin):
    from receivables.services import allocation_reverse

    acc = AccountFactory()
    inv = invoice_with_lines(acc, ["1000.00"])
    payment = payment_record(
        account=acc, date=dt.date(2026, 3, 1), amount=D("100.00"), currency="USD", user=finance
    )
    dispute = _open(inv, finance)
    dispute = disputes.dispute_rebill(dispute=dispute, user=finance, reason="Wrong PO")
    assert dispute.credit_amount == D("900.00")
    allocation_reverse(allocation=payment.allocations.get(), user=finance, reason="Bounced")
    with pytest.raises(
        BillingError, match="now has USD 1,000.00 open, not the USD 900.00 proposed"
    ):
        disputes.dispute_credit_approve(dispute=dispute, user=billing_admin)
    assert (CreditNote.objects.count(), Dispute.objects.get().status) == (0, "pending_approval")
    dispute = disputes.dispute_credit_decline(dispute=dispute, user=billing_admin, reason="Paid")
    assert (dispute.status, dispute.credit_rebill, dispute.credit_amount) == ("open", False, None)


@pytest.mark.django_db
def test_a_plain_credit_note_on_a_disputed_invoice_is_refused(finance, billing_admin):
    from invoicing.services import credit_note_create

    inv = invoice_with_lines(AccountFactory(), ["1000.00"])
    dispute = _open(inv, finance)
    for amount in ("1000.00", "100.00"):
        with pytest.raises(BillingError, match=r"is disputed: credit it from its dispute"):
            credit_note_create(invoice=inv, amount=amount, reason="Goodwill", user=billing_admin)
    assert CreditNote.objects.count() == 0
    assert selectors.invoice_open_amount(inv) == D("1000.00")
    disputes.dispute_reject(dispute=dispute, user=finance, reason="Hours are right")
    note = credit_note_create(invoice=inv, amount="100.00", reason="Goodwill", user=billing_admin)
    assert note.amount == D("100.00")


@pytest.mark.django_db
def test_the_credit_note_form_on_a_disputed_invoice_credits_nothing(client, billing_admin):
    inv = invoice_with_lines(AccountFactory(), ["1000.00"])
    _open(inv, UserFactory())
    client.force_login(billing_admin)
    response = client.post(
        f"/invoices/{inv.pk}/credit-notes/",
        {"amount": "1000.00", "reason": "Goodwill", "date": "2026-03-10", "confirm": "1"},
        follow=True,
    )
    assert response.status_code == 200
    assert "is disputed: credit it from its dispute" in response.content.decode()
    assert CreditNote.objects.count() == 0


@pytest.mark.django_db
def test_four_eyes_amount_per_currency(finance, billing_admin, settings):
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "EUR=900.00; jpy=150000; 500.00"
    assert disputes.four_eyes_amount("EUR") == D("900.00")
    assert disputes.four_eyes_amount("JPY") == D("150000")
    assert disputes.four_eyes_amount("USD") == D("500.00")  # the bare amount: the others
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "EUR=900.00"
    assert disputes.four_eyes_amount("USD") == D("0")  # unlisted, no default: always two people
    acc = AccountFactory()
    eur = invoice_with_lines(acc, ["1000.00"], currency="EUR")
    usd = invoice_with_lines(acc, ["1000.00"])
    at_once = disputes.dispute_credit(
        dispute=_open(eur, finance), amount="900.00", reason="x", user=finance
    )
    waits = disputes.dispute_credit(
        dispute=_open(usd, finance), amount="0.01", reason="x", user=finance
    )
    assert (at_once.status, waits.status) == ("credited", "pending_approval")
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "EUR=lots"
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="'lots' is not an amount"):
        disputes.four_eyes_amount("EUR")


@pytest.mark.django_db
def test_card_numbers_in_messages_are_masked(finance):
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    dispute = _open(inv, finance, message="We paid with card 4111 1111 1111 1111 already")
    disputes.dispute_comment(dispute=dispute, message="card 5500-0000-0000-0004", user=finance)
    assert list(dispute.messages.values_list("body", flat=True)) == [
        "We paid with card **** **** **** 1111 already",
        "card **** **** **** 0004",
    ]
    inv.refresh_from_db()
    assert "4111" not in inv.dispute_reason.replace("**** **** **** 1111", "")


@pytest.mark.django_db
def test_customer_actions_carry_the_contact_in_history(finance):
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    dispute = disputes.dispute_open(
        invoice=inv, category="other", message="Why?", customer="jane@customer.example"
    )
    assert dispute.opened_by is None
    assert dispute.opened_by_customer == "jane@customer.example"
    record = dispute.history.get()
    assert (record.history_user, record.history_change_reason) == (
        None,
        "portal: jane@customer.example",
    )
    message = dispute.messages.get()
    assert (message.author, message.author_customer, message.internal) == (
        None,
        "jane@customer.example",
        False,
    )


@pytest.mark.django_db
def test_withdrawn_by_clearing_the_flag(finance):
    from receivables.services import invoice_dispute, invoice_dispute_clear

    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    inv = invoice_dispute(invoice=inv, user=finance, reason="Hours questioned")
    dispute = inv.disputes.get()
    assert (dispute.category, dispute.sla_days, inv.dispute_reason) == (
        "other",
        20,
        "Hours questioned",
    )
    inv = invoice_dispute_clear(invoice=inv, user=finance)
    dispute.refresh_from_db()
    assert (inv.disputed, dispute.status, dispute.resolved_by) == (False, "withdrawn", finance)


@pytest.mark.django_db
def test_kpis(finance, billing_admin):
    acc = AccountFactory()
    invoices = [invoice_with_lines(acc, ["1000.00"]) for _ in range(5)]
    opened = [
        _open(invoices[0], finance, category="overbilling"),
        _open(invoices[1], finance, category="overbilling"),
        _open(invoices[2], finance, category="outage"),
        _open(invoices[3], finance, category="outage"),
        _open(invoices[4], finance, category="other"),
    ]
    with time_machine.travel(NOW + dt.timedelta(days=2), tick=False):
        disputes.dispute_credit(dispute=opened[0], amount="100.00", reason="x", user=finance)
    with time_machine.travel(NOW + dt.timedelta(days=12), tick=False):
        disputes.dispute_credit(dispute=opened[1], amount="50.50", reason="x", user=finance)
    with time_machine.travel(NOW + dt.timedelta(days=5), tick=False):
        disputes.dispute_credit(dispute=opened[2], amount="200.00", reason="x", user=finance)
        disputes.dispute_reject(dispute=opened[3], user=finance, reason="No outage")
    kpis = selectors.dispute_kpis(now=NOW + dt.timedelta(days=21))
    assert (kpis.open_count, kpis.open_past_sla, kpis.resolved_count) == (1, 1, 4)
    assert kpis.median_resolution_days == D("5.00")  # 2, 5, 5, 12 days
    assert kpis.within_sla_percent == D("75.00")  # 12 days > the 10-day overbilling SLA
    assert [(c["label"], c["currency"], c["amount"], c["count"]) for c in kpis.credited] == [
        ("Service outage credit", "USD", D("200.00"), 1),
        ("Overbilling", "USD", D("150.50"), 2),
    ]
    assert Reminder.objects.count() == 0


@pytest.mark.django_db
def test_dispute_age_against_sla():
    inv = invoice_with_lines(AccountFactory(), ["100.00"])
    dispute = _open(inv, UserFactory())
    age = selectors.dispute_age(dispute, now=NOW + dt.timedelta(days=4, hours=1))
    assert (age.age_days, age.sla_days, age.days_left, age.within_sla) == (4, 10, 5, True)
    late = selectors.dispute_age(dispute, now=NOW + dt.timedelta(days=11))
    assert (late.age_days, late.days_left, late.within_sla) == (11, -1, False)
