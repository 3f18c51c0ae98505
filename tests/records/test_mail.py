"""Mail: every message previewed, To/CC editable, templates per kind and reminder level, sent
mail stored with attachment hashes and shown on the invoice and customer pages.

No message leaves without a person having seen it or having approved its template (issue 15):
sends nobody previews (the dunning schedule and "Run now", the API, the list's "send all", the
portal's invitation and sign-in mails) are held or refused until a billing admin approves the
template; approving and editing are recorded; the preview pages still send."""

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
from portal import services as portal
from portal.models import Contact, SignInLink
from receivables.models import Reminder
from receivables.services import payment_record
from receivables.tasks import dunning_task
from tests.browser import log_in
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
    client_for, finance, acme, django_capture_on_commit_callbacks, approved_mail
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
    client_for, finance, acme, django_capture_on_commit_callbacks, approved_mail
):
    ready = final_invoice(account=acme, seq=8, total="100.00", due_date=dt.date(2026, 4, 1))
    rendering = world_invoice(acme, "200.00", due=dt.date(2026, 4, 1), seq=9)  # no PDF yet
    client = client_for(finance)
    html = client.get(reverse("receivables:dunning_preview")).content.decode()
    assert "2 reminders due on 2026-04-15" in html and "Send 1 reminder<" in html
    row = html[html.index(rendering.number) : html.index("</tr>", html.index(rendering.number))]
    assert f"held: the PDF of {rendering.number} is not stored yet; sent with it once it is" in row
    assert '<p class="error" id="held-note">1 reminder held (see why above)' in html
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


SLOTS = [
    ("invoice", 0),
    ("credit_note", 0),
    ("statement", 0),
    ("portal_invite", 0),
    ("portal_signin", 0),
    ("reminder", 7),
    ("reminder", 30),
    ("reminder", 60),
]


def approve(client, kind: str, level: int = 0):
    """Approve on the templates page, with the digest of the text the page showed."""
    html = client.get(reverse("mail_templates")).content.decode()
    section = html[html.index(f'id="t-{kind}-{level}"') :]
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', section)[1]
    return client.post(reverse("mail_template_approve", args=[kind, level]), {"digest": digest})


def test_templates_page_shows_every_template_with_its_text_and_approval(
    client_for, billing_admin, finance
):
    client = client_for(billing_admin)
    html = client.get(reverse("mail_templates")).content.decode()
    for kind, level in SLOTS:
        assert f'id="t-{kind}-{level}"' in html
    assert "8 templates not approved yet." in html and html.count("Not approved</span>") == 8
    assert "Your {{ firm }} customer portal sign-in link" in html  # the built-in text, in full
    assert "{{ link }}" in html and MailTemplate.objects.count() == 0
    stale = client.post(
        reverse("mail_template_approve", args=["reminder", 30]), {"digest": "0" * 64}, follow=True
    )
    assert "changed since you saw it" in stale.content.decode()
    assert MailTemplate.objects.count() == 0
    assert (
        client_for(finance)
        .post(reverse("mail_template_approve", args=["reminder", 30]))
        .status_code
        == 403
    )
    approve(client, "reminder", 30)
    row = MailTemplate.objects.get()
    assert (row.kind, row.level, row.approved_by) == ("reminder", 30, billing_admin)
    assert (row.subject, row.body) == mail.default_for("reminder", 30)
    assert row.approved_at is not None and row.updated_by is None
    assert row.history.latest().history_user == billing_admin
    html = client.get(reverse("mail_templates")).content.decode()
    section = html[html.index('id="t-reminder-30"') : html.index('id="t-reminder-60"')]
    assert "Approved</span>" in section and "by bella.admin" in section
    assert "7 templates not approved yet." in html
    edit = client.get(reverse("mail_template", args=["reminder", 30])).content.decode()
    assert 'id="template-history"' in edit and "bella.admin" in edit


def test_an_edit_by_a_billing_admin_saves_and_approves_it(client_for, billing_admin):
    client = client_for(billing_admin)
    url = reverse("mail_template", args=["portal_signin", 0])
    refused = client.post(url, {"subject": "Sign in", "body": "Hello, no link here."})
    assert "needs {{ link }}" in refused.content.decode() and MailTemplate.objects.count() == 0
    client.post(url, {"subject": "Sign in to {{ firm }}", "body": "Here: {{ link }}"})
    row = MailTemplate.objects.get()
    assert row.approved_by == billing_admin and row.updated_by == billing_admin
    assert mail.not_approved_reason("portal_signin") == ""


def test_a_run_holds_a_reminder_whose_template_is_not_approved_and_the_next_run_sends_it(
    client_for, billing_admin, finance, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(account=acme, seq=1, total="500.00", due_date=dt.date(2026, 4, 1))
    client = client_for(finance)
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_task() == 0  # the beat's daily run
    assert outbox.outbox == [] and Reminder.objects.count() == 0 and SentMail.objects.count() == 0
    reason = "held: The reminder at 7 days mail template is not approved yet"
    page = client.get(reverse("receivables:dunning")).content.decode()
    assert "Held today (1)" in page and reason in page and inv.number in page
    customer = client.get(reverse("records:customer", args=[acme.pk])).content.decode()
    assert 'id="held-reminders"' in customer and reason in customer
    preview = client.get(reverse("receivables:dunning_preview")).content.decode()
    assert reason in preview and "Send 0 reminders" in preview
    digest = re.search(r'name="confirm_digest" value="([0-9a-f]{64})"', preview)[1]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("receivables:dunning_run"), {"confirm_digest": digest})
    assert outbox.outbox == [] and Reminder.objects.count() == 0  # "Run now" holds it too
    approve(client_for(billing_admin), "reminder", 7)
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_task() == 1
    (msg,) = outbox.outbox
    assert msg.subject == f"Friendly reminder: invoice {inv.number} is 14 days past due"
    assert Reminder.objects.get().status == "sent"
    assert "Held today" not in client.get(reverse("receivables:dunning")).content.decode()


def test_api_and_bulk_sends_refuse_until_the_invoice_template_is_approved(
    client_for, billing_admin, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(account=acme, seq=2, total="100.00")
    client = client_for(billing_admin)
    api = f"/api/v1/invoices/{inv.pk}/send/"
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(api)
        bulk = client.post(
            reverse("invoicing:bulk_send") + f"?ids={inv.pk}",
            {"ids": inv.pk, "confirm_count": "1"},
            follow=True,
        )
    assert refused.status_code == 409
    assert "invoice mail template is not approved yet" in refused.json()["detail"]
    assert "Nothing was sent" in bulk.content.decode()
    inv.refresh_from_db()
    assert inv.status == Invoice.Status.APPROVED and inv.sent_at is None
    assert outbox.outbox == [] and SentMail.objects.count() == 0
    approve(client, "invoice")
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(api)
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert len(outbox.outbox) == 1 and SentMail.objects.get().sent_by == billing_admin


def test_the_preview_page_still_sends_an_unapproved_template(
    client_for, billing_admin, acme, django_capture_on_commit_callbacks
):
    inv = final_invoice(account=acme, seq=3, total="100.00")
    with django_capture_on_commit_callbacks(execute=True):
        client_for(billing_admin).post(
            reverse("invoicing:mail", args=[inv.pk]), {"to": "ap@acme.example"}
        )
    assert len(outbox.outbox) == 1 and MailTemplate.objects.count() == 0


def test_portal_invitation_and_sign_in_wait_for_their_templates(
    client_for, billing_admin, acme, django_capture_on_commit_callbacks
):
    with pytest.raises(mail.TemplateNotApproved, match="portal invitation mail template"):
        portal.contact_invite(account=acme, email="jane@acme.example", user=billing_admin)
    assert Contact.objects.count() == 0 and SignInLink.objects.count() == 0
    staff = client_for(billing_admin).get(reverse("contacts:list")).content.decode()
    assert 'id="portal-mail-waiting"' in staff and "portal sign-in link mail template" in staff
    approve(client_for(billing_admin), "portal_invite")
    with django_capture_on_commit_callbacks(execute=True):
        portal.contact_invite(account=acme, email="jane@acme.example", user=billing_admin)
    assert outbox.outbox[0].subject.endswith("customer portal invitation")
    assert "/portal/signin/" in outbox.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        assert portal.signin_link_request(email="jane@acme.example") == 0  # held
    assert len(outbox.outbox) == 1 and SignInLink.objects.count() == 1
    client_for(billing_admin).post(
        reverse("mail_template", args=["portal_signin", 0]),
        {"subject": "Sign in to {{ customer }}", "body": "{{ greeting }}: {{ link }}"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert portal.signin_link_request(email="jane@acme.example") == 1
    assert outbox.outbox[1].subject == "Sign in to Acme Corp"
    assert re.fullmatch(r"Hello: http\S+/portal/signin/\S+/", outbox.outbox[1].body)


def test_the_demo_seed_approves_the_built_in_texts_as_its_billing_admin(db):
    from demo.management.commands.seed_demo import demo_mail_approve, demo_users_ensure

    users = demo_users_ensure()
    assert demo_mail_approve(users) == len(SLOTS)
    rows = MailTemplate.objects.order_by("kind", "level")
    assert sorted((r.kind, r.level) for r in rows) == sorted(SLOTS)
    assert {r.approved_by.username for r in rows} == {"billing"}
    assert {r.history.latest().history_user.username for r in rows} == {"billing"}
    assert demo_mail_approve(users) == 0  # again: nothing changes


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_templates_page_shows_approval_and_approves(page, live_server, billing_admin):
    log_in(page, billing_admin)
    page.goto("/mail/templates/")
    section = page.locator("#t-reminder-7")
    assert "Not approved" in section.locator(".badge").inner_text()
    assert "Friendly reminder: invoice {{ number }}" in section.locator(".subject").inner_text()
    section.locator("button", has_text="Approve this text").click()
    page.wait_for_load_state("networkidle")
    assert "template approved" in page.locator(".messages").inner_text()
    section = page.locator("#t-reminder-7")
    assert section.locator(".badge").inner_text() == "Approved"
    assert "by bella.admin" in section.locator(".approved-by").inner_text()
    assert section.locator("button", has_text="Approve this text").count() == 0
    assert "Not approved" in page.locator("#t-reminder-30 .badge").inner_text()
    assert MailTemplate.objects.get().approved_by == billing_admin
