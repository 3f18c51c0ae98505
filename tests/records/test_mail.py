"""Mail: every message previewed, To/CC editable, templates per kind and reminder level, sent
mail stored with attachment hashes and shown on the invoice and customer pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from django.core import mail as outbox
from django.urls import reverse

from core import mail
from core.models import MailTemplate, SentMail
from invoicing.models import Invoice
from receivables.models import Reminder
from receivables.services import payment_record
from tests.factories import AccountFactory, CreditNoteFactory
from tests.screens.helpers import final_invoice
from tests.world import final_invoice as world_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]
    time_machine.move_to(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def acme():
    return AccountFactory(external_id="ACC-1", name="Acme Corp", billing_email="ap@acme.example")


def test_invoice_preview_then_send_to_edited_recipients(
    client_for, billing_admin, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(account=acme, seq=1, total="9451.48")
    client = client_for(billing_admin)
    url = reverse("invoicing:mail", args=[inv.pk])
    html = client.get(url).content.decode()
    assert 'value="ap@acme.example"' in html and "Invoice INV-2026-00001 from" in html
    assert "for USD 9,451.48, due on 2026-03-02" in html and "IBAN" in html
    assert "INV-2026-00001.pdf" in html and outbox.outbox == []
    bad = client.post(url, {"to": "not-an-address", "cc": ""})
    assert (
        bad.status_code == 400 and "not an e-mail address: not-an-address" in bad.content.decode()
    )
    assert outbox.outbox == [] and SentMail.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"to": "pay@acme.example", "cc": "cfo@acme.example"}, follow=True)
    assert "INV-2026-00001 sent to pay@acme.example." in done.content.decode()
    (msg,) = outbox.outbox
    assert msg.to == ["pay@acme.example"] and msg.cc == ["cfo@acme.example"]
    sent = SentMail.objects.get()
    pdf = Invoice.objects.get(pk=inv.pk).pdf.open("rb").read()
    assert sent.attachments == [
        {"name": "INV-2026-00001.pdf", "sha256": hashlib.sha256(pdf).hexdigest()}
    ]
    assert sent.sent_by == billing_admin and sent.subject == msg.subject
    detail = client.get(reverse("invoicing:detail", args=[inv.pk])).content.decode()
    assert (
        "Mail sent" in detail
        and "pay@acme.example" in detail
        and hashlib.sha256(pdf).hexdigest()[:10] in detail
    )


def test_edited_template_is_used_and_bad_syntax_refused(client_for, billing_admin, finance, acme):
    client = client_for(billing_admin)
    url = reverse("mail_template", args=["invoice", 0])
    refused = client.post(url, {"subject": "Invoice {% if %}", "body": "x"})
    assert "does not parse" in refused.content.decode() and MailTemplate.objects.count() == 0
    client.post(url, {"subject": "Your bill {{ number }}", "body": "Pay {{ open_amount }} please."})
    inv = final_invoice(account=acme, seq=2, total="10.00")
    html = client.get(reverse("invoicing:mail", args=[inv.pk])).content.decode()
    assert "Your bill INV-2026-00002" in html and "Pay USD 10.00 please." in html
    assert MailTemplate.objects.get().history.latest().history_user == billing_admin
    assert client_for(finance).post(url, {"subject": "x", "body": "y"}).status_code == 403


def test_reminder_wording_escalates_by_level():
    subjects = [
        mail.render("reminder", lvl, {"number": "INV-1", "days_past_due": str(lvl)})[0]
        for lvl in (7, 30, 60, 90)
    ]
    assert subjects == [
        "Friendly reminder: invoice INV-1 is 7 days past due",
        "Second reminder: invoice INV-1 is 30 days overdue",
        "Final notice: invoice INV-1 is 60 days overdue",
        "Final notice: invoice INV-1 is 90 days overdue",
    ]


def test_single_reminder_preview_and_send_with_pdf(
    client_for, finance, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(
        account=acme, seq=3, total="500.00", due_date=dt.date(2026, 3, 10)
    )  # 36 days
    client = client_for(finance)
    url = reverse("receivables:invoice_remind", args=[inv.pk])
    html = client.get(url).content.decode()
    assert "Second reminder: invoice INV-2026-00003 is 36 days overdue" in html
    assert "USD 500.00 is open" in html and "INV-2026-00003.pdf" in html and outbox.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"to": "ap@acme.example", "cc": ""})
    (msg,) = outbox.outbox
    assert msg.attachments[0][0] == "INV-2026-00003.pdf"
    assert list(Reminder.objects.order_by("level").values_list("level", "status")) == [
        (7, "superseded"),
        (30, "sent"),
    ]
    assert SentMail.objects.get().level == 30
    again = client.post(url, {"to": "ap@acme.example"})
    assert "No reminder is due" in again.content.decode() and len(outbox.outbox) == 1


def test_dunning_run_shows_what_will_be_sent_and_asks(
    client_for, finance, acme, django_capture_on_commit_callbacks
):
    first, second = (
        final_invoice(account=acme, seq=seq, total="100.00", due_date=dt.date(2026, 4, 1))
        for seq in (4, 5)
    )
    client = client_for(finance)
    html = client.get(reverse("receivables:dunning_preview")).content.decode()
    assert (
        "2 reminders due on 2026-04-15" in html
        and "Send 2 reminders" in html
        and outbox.outbox == []
    )
    digest = re.search(r'name="confirm_digest" value="([0-9a-f]{64})"', html)[1]
    run = reverse("receivables:dunning_run")
    # No digest, or the list changed to another of the same length (one paid, a third due).
    for changed in (False, True):
        if changed:
            payment_record(
                account=acme,
                date=dt.date(2026, 4, 14),
                amount=Decimal("100.00"),
                currency="USD",
                reference=first.number,
            )
            final_invoice(account=acme, seq=7, total="100.00", due_date=dt.date(2026, 4, 2))
        body = {"confirm_digest": digest} if changed else {}
        stale = client.post(run, body, follow=True)
        assert "are not the ones you confirmed" in stale.content.decode()
        assert outbox.outbox == [] and Reminder.objects.count() == 0
    html = client.get(reverse("receivables:dunning_preview")).content.decode()
    assert "Send 2 reminders" in html and first.number not in html and second.number in html
    digest = re.search(r'name="confirm_digest" value="([0-9a-f]{64})"', html)[1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(run, {"confirm_digest": digest})
    assert len(outbox.outbox) == 2 and SentMail.objects.filter(kind="reminder").count() == 2


def test_statement_and_credit_note_mail_are_stored_and_listed_on_the_customer(
    client_for, finance, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(account=acme, seq=6, total="300.00")
    note = CreditNoteFactory(invoice=inv, number="CN-2026-00009", number_seq=9, amount="50.00")
    client = client_for(finance)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("records:statement_mail", args=[acme.pk]), {"to": "ap@acme.example"})
        client.post(
            reverse("invoicing:credit_note_mail", args=[note.pk]), {"to": "ap@acme.example"}
        )
    assert [m.subject.split(" from ")[0] for m in outbox.outbox] == [
        "Statement of account",
        "Credit note CN-2026-00009",
    ]
    assert "USD 250.00 open" in outbox.outbox[0].body
    page = client.get(reverse("records:customer", args=[acme.pk])).content.decode()
    assert page.count('data-label="Subject"') == 2


def test_a_reminder_without_its_invoice_pdf_is_held_and_the_preview_says_so(
    client_for, finance, acme, django_capture_on_commit_callbacks
):
    ready = final_invoice(account=acme, seq=8, total="100.00", due_date=dt.date(2026, 4, 1))
    rendering = world_invoice(acme, "200.00", due=dt.date(2026, 4, 1), seq=9)  # no PDF yet
    client = client_for(finance)
    html = client.get(reverse("receivables:dunning_preview")).content.decode()
    assert "2 reminders due on 2026-04-15" in html and "Send 1 reminder<" in html
    row = html[html.index(rendering.number) : html.index("</tr>", html.index(rendering.number))]
    assert "held: the invoice PDF is not stored yet" in row
    assert '<p class="error" id="held-note">1 reminder held: its invoice has no stored PDF' in html
    digest = re.search(r'name="confirm_digest" value="([0-9a-f]{64})"', html)[1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("receivables:dunning_run"), {"confirm_digest": digest})
    assert len(outbox.outbox) == 1 and ready.number in outbox.outbox[0].subject
    assert outbox.outbox[0].attachments[0][0] == f"{ready.number}.pdf"
    assert not Reminder.objects.filter(invoice=rendering).exists()  # still due, not recorded
    single = client.post(
        reverse("receivables:invoice_remind", args=[rendering.pk]), {"to": "ap@acme.example"}
    )
    assert Reminder.objects.filter(invoice=rendering).count() == 0 and len(outbox.outbox) == 1
    assert "is not stored yet; its reminder is held" in single.content.decode() or (
        "is not stored yet; its reminder is held"
        in " ".join(str(m) for m in single.wsgi_request._messages)
    )
