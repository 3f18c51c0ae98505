"""Dunning (SPEC 4): each level once per invoice, never disputed or fully credited invoices."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase

from core.errors import BillingError
from core.mail import mail_templates_approve_builtin
from core.models import SentMail
from receivables import dunning, selectors
from receivables.models import Reminder
from receivables.services import invoice_dispute, payment_record
from receivables.tasks import dunning_task
from tests.factories import AccountFactory, CreditNoteFactory
from tests.worker import wait_for
from tests.world import final_invoice as world_invoice

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

D = Decimal
DUE = dt.date(2026, 3, 2)


def day(n):
    """The day n days past DUE."""
    return DUE + dt.timedelta(days=n)


def dunning_run(**kwargs):
    """receivables.dunning.dunning_run with its mail sent as on commit (a test's transaction
    never commits, so the callbacks run as the block ends)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dunning.dunning_run(**kwargs)


def final_invoice(*args, **kwargs):
    """A final invoice with its PDF stored: a reminder goes out with it attached."""
    return world_invoice(*args, pdf=True, **kwargs)


def reminders():
    return list(
        Reminder.objects.order_by("invoice__number", "level").values_list(
            "invoice__number", "level", "status", "sent_on"
        )
    )


@pytest.fixture(autouse=True)
def _locmem(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]


@pytest.mark.django_db
def test_each_level_is_sent_once():
    acc = AccountFactory(billing_email="ap@acme.example")
    inv = final_invoice(acc, "500.00", due=DUE, seq=1)
    assert dunning_run(as_of=day(6)) == []
    sent = dunning_run(as_of=day(7))
    assert [(r.level, r.status, r.sent_to) for r in sent] == [(7, "sent", "ap@acme.example")]
    assert dunning_run(as_of=day(7)) == []  # same day again: nothing
    assert dunning_run(as_of=day(8)) == []
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ap@acme.example"]
    assert inv.number in mail.outbox[0].subject and "7 days past due" in mail.outbox[0].subject
    assert "USD 500.00" in mail.outbox[0].body
    dunning_run(as_of=day(30))
    dunning_run(as_of=day(61))
    dunning_run(as_of=day(200))
    assert reminders() == [
        (inv.number, 7, "sent", day(7)),
        (inv.number, 30, "sent", day(30)),
        (inv.number, 60, "sent", day(61)),
    ]
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_several_levels_due_at_once_send_only_the_highest():
    acc = AccountFactory(billing_email="ap@late.example")
    inv = final_invoice(acc, "100.00", due=DUE, seq=1)
    dunning_run(as_of=day(45))
    assert reminders() == [
        (inv.number, 7, "superseded", day(45)),
        (inv.number, 30, "sent", day(45)),
    ]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_disputed_paid_and_fully_credited_invoices_are_skipped(finance):
    acc = AccountFactory(billing_email="ap@x.example")
    disputed = final_invoice(acc, "100.00", due=DUE, seq=1)
    invoice_dispute(invoice=disputed, user=finance, reason="contested")
    credited = final_invoice(acc, "100.00", due=DUE, seq=2)
    CreditNoteFactory(invoice=credited, amount=D("100.00"), date=DUE)
    paid = final_invoice(acc, "100.00", due=DUE, seq=3)
    payment_record(
        account=acc,
        date=DUE,
        amount=D("100.00"),
        currency="USD",
        reference=paid.number,
        user=finance,
    )
    draft = final_invoice(acc, "100.00", due=DUE, seq=4, status="draft")
    partly_credited = final_invoice(acc, "100.00", due=DUE, seq=5)
    CreditNoteFactory(invoice=partly_credited, amount=D("40.00"), date=DUE)
    dunning_run(as_of=day(10))
    assert reminders() == [(partly_credited.number, 7, "sent", day(10))]
    assert "USD 60.00" in mail.outbox[0].body
    assert draft.reminders.count() == 0


@pytest.mark.django_db
def test_no_billing_email_is_recorded_not_sent():
    acc = AccountFactory(billing_email="")
    inv = final_invoice(acc, "100.00", due=DUE, seq=1, billing_email="")
    [reminder] = dunning_run(as_of=day(7))
    assert (reminder.status, reminder.sent_to) == ("no_email", "")
    assert "No billing email" in reminder.note
    assert mail.outbox == []
    assert dunning_run(as_of=day(8)) == []
    assert inv.reminders.count() == 1


@pytest.mark.django_db
def test_configured_levels(settings, approved_mail):
    settings.BILLING_DUNNING_DAYS = [3, 14]
    mail_templates_approve_builtin(user=approved_mail)  # the new levels' templates
    acc = AccountFactory(billing_email="ap@x.example")
    final_invoice(acc, "100.00", due=DUE, seq=1)
    assert [r.level for r in dunning_run(as_of=day(3))] == [3]
    assert [r.level for r in dunning_run(as_of=day(14))] == [14]


@pytest.mark.django_db
def test_due_tomorrow_and_command():
    acc = AccountFactory(billing_email="ap@x.example")
    inv = final_invoice(acc, "100.00", due=DUE, seq=1)
    [due] = selectors.dunning_due(day(7))
    assert (due.invoice.pk, due.level, due.days_past_due) == (inv.pk, 7, 7)
    assert selectors.dunning_due(day(6)) == []
    out = io.StringIO()
    call_command("dunning", "--as-of", day(7).isoformat(), stdout=out)
    assert out.getvalue().splitlines() == [
        f"{inv.number} level 7: Sent to ap@x.example",
        "2026-03-09: 1 reminder sent, 0 recorded as skipped",
    ]
    assert selectors.dunning_due(day(7)) == []


@pytest.mark.django_db
def test_mail_leaves_only_after_the_reminders_are_committed():
    acc = AccountFactory(billing_email="ap@x.example")
    final_invoice(acc, "100.00", due=DUE, seq=1)
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        dunning.dunning_run(as_of=day(7))
    assert mail.outbox == [] and Reminder.objects.get().status == "sent"
    for callback in callbacks:
        callback()
    assert [m.to for m in mail.outbox] == [["ap@x.example"]]


@pytest.mark.django_db
def test_nothing_is_sent_when_the_transaction_rolls_back():
    acc = AccountFactory(billing_email="ap@x.example")
    final_invoice(acc, "100.00", due=DUE, seq=1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        with transaction.atomic():
            assert len(dunning.dunning_run(as_of=day(7))) == 1
            transaction.set_rollback(True)
    assert mail.outbox == [] and Reminder.objects.count() == 0 and SentMail.objects.count() == 0


@pytest.mark.django_db
def test_mail_failure_takes_back_the_send_so_a_retry_sends_once(settings):
    acc = AccountFactory(billing_email="ap@x.example")
    inv = final_invoice(acc, "100.00", due=DUE, seq=1)
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "tests.mail_backends.RefusingBackend"
    with pytest.raises(BillingError, match=f"Could not send the reminder for {inv.number}"):
        dunning_run(as_of=day(31))
    # Nothing claims a reminder went out: levels 7 and 30 are due again.
    assert Reminder.objects.count() == 0 and SentMail.objects.count() == 0
    assert [(d.level, d.skipped_levels) for d in selectors.dunning_due(day(31))] == [(30, (7,))]
    settings.EMAIL_BACKEND = backend
    assert [(r.level, r.status) for r in dunning_run(as_of=day(31))] == [
        (7, "superseded"),
        (30, "sent"),
    ]
    assert dunning_run(as_of=day(31)) == []
    assert len(mail.outbox) == 1 and SentMail.objects.get().to == ["ap@x.example"]


@pytest.mark.django_db
def test_task_runs_the_same_service():
    acc = AccountFactory(billing_email="ap@x.example")
    final_invoice(acc, "100.00", due=DUE, seq=1)
    assert dunning_task.delay(day(7).isoformat()).get() == 1
    assert dunning_task.delay(day(7).isoformat()).get() == 0


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_dunning_task_on_a_real_worker(celery_worker):
    acc = AccountFactory(billing_email="ap@x.example")
    inv = final_invoice(acc, "100.00", due=DUE, seq=1)
    dunning_task.delay(day(31).isoformat())
    wait_for(lambda: Reminder.objects.filter(invoice=inv, level=30).exists())
    assert sorted(Reminder.objects.values_list("level", "status")) == [
        (7, "superseded"),
        (30, "sent"),
    ]
