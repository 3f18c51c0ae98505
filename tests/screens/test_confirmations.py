"""Irreversible actions confirm first (issue 15): resolving a dispute by credit note, approving a
proposed credit, re-billing and rejecting each show the amount, invoice and customer on a first
POST that writes nothing, and act only on the confirmation's POST; the other irreversible forms
(a flag's write-off, revoking a portal contact or an API token, approving or rejecting a draft)
ask with the same facts before they submit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from core.tokens import token_create
from invoicing.models import CreditNote, Invoice
from portal.models import Contact
from receivables import disputes
from receivables.models import Dispute
from tests.factories import AccountFactory, FlagFactory, InvoiceFactory
from tests.world import invoice_with_lines
from timesheets.models import Flag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "500.00"


def _disputed(finance, *amounts: str) -> Dispute:
    account = AccountFactory(external_id="ACC-DC", name="Dispute Corp")
    invoice = invoice_with_lines(account, list(amounts))
    return disputes.dispute_open(invoice=invoice, category="other", message="No", user=finance)


def _summary(html: str) -> str:
    """The confirmation's facts as text."""
    block = html.split('<dl id="confirm-summary">')[1].split("</dl>")[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).strip()
    return re.sub(r" ([,.])", r"\1", text)


def test_a_dispute_credit_is_confirmed_before_the_credit_note_is_made(finance, client_for):
    dispute = _disputed(finance, "600.00", "400.00")
    client = client_for(finance)
    url = f"/receivables/disputes/{dispute.pk}/credit/"
    asked = client.post(url, {"amount": "400.00", "reason": "Line 2 doubled"})
    assert asked.status_code == 200
    html = asked.content.decode()
    assert "Resolve the dispute with a credit note?" in html
    summary = _summary(html)
    assert "Dispute Corp (ACC-DC)" in summary
    assert f"{dispute.invoice.number}, USD 1,000.00" in summary
    assert "Amount USD 400.00" in summary and "Line 2 doubled" in summary
    assert '<input type="hidden" name="amount" value="400.00">' in html
    dispute.refresh_from_db()
    assert (dispute.status, CreditNote.objects.count()) == ("open", 0)
    done = client.post(url, {"amount": "400.00", "reason": "Line 2 doubled", "confirm": "1"})
    assert done.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "credited"
    assert CreditNote.objects.get().amount == Decimal("400.00")


def test_above_four_eyes_the_confirmation_says_it_waits_and_the_approval_confirms_too(
    finance, billing_admin, client_for
):
    dispute = _disputed(finance, "1000.00")
    proposer = client_for(finance)
    url = f"/receivables/disputes/{dispute.pk}/"
    asked = proposer.post(url + "credit/", {"amount": "750.00", "reason": "Outage"})
    assert "it waits for another user's approval" in asked.content.decode()
    proposer.post(url + "credit/", {"amount": "750.00", "reason": "Outage", "confirm": "1"})
    dispute.refresh_from_db()
    assert dispute.status == "pending_approval"
    approver = client_for(billing_admin)
    asked = approver.post(url + "approve/", {})
    assert asked.status_code == 200
    assert "Approve the credit?" in asked.content.decode()
    assert "Amount USD 750.00" in _summary(asked.content.decode())
    dispute.refresh_from_db()
    assert (dispute.status, CreditNote.objects.count()) == ("pending_approval", 0)
    approver.post(url + "approve/", {"confirm": "1"})
    dispute.refresh_from_db()
    assert dispute.status == "credited"
    assert CreditNote.objects.get().amount == Decimal("750.00")


def test_re_bill_and_reject_are_confirmed_first(finance, client_for):
    client = client_for(finance)
    rebilled = _disputed(finance, "300.00")
    url = f"/receivables/disputes/{rebilled.pk}/rebill/"
    asked = client.post(url, {"reason": "Wrong PO"})
    assert "Credit the invoice in full and re-bill it?" in asked.content.decode()
    assert "Amount USD 300.00" in _summary(asked.content.decode())
    rebilled.refresh_from_db()
    assert (rebilled.status, CreditNote.objects.count()) == ("open", 0)
    assert Invoice.objects.filter(status="draft").count() == 0
    client.post(url, {"reason": "Wrong PO", "confirm": "1"})
    rebilled.refresh_from_db()
    assert rebilled.status != "open" and CreditNote.objects.count() == 1

    rejected = disputes.dispute_open(
        invoice=invoice_with_lines(AccountFactory(name="Other Corp"), ["80.00"]),
        category="other",
        message="No",
        user=finance,
    )
    url = f"/receivables/disputes/{rejected.pk}/reject/"
    asked = client.post(url, {"reason": "Hours are in the log"})
    assert "Reject the dispute?" in asked.content.decode()
    assert "Open now USD 80.00" in _summary(asked.content.decode())
    rejected.refresh_from_db()
    assert rejected.status == "open"
    client.post(url, {"reason": "Hours are in the log", "confirm": "1"})
    rejected.refresh_from_db()
    assert rejected.status == "rejected"


def test_a_refused_resolution_is_refused_without_a_confirmation(finance, client_for):
    dispute = _disputed(finance, "100.00")
    client = client_for(finance)
    bad = client.post(f"/receivables/disputes/{dispute.pk}/credit/", {"amount": "-5"})
    assert bad.status_code == 302  # the form's error, no confirmation page
    nothing = client.post(f"/receivables/disputes/{dispute.pk}/approve/", {})
    assert nothing.status_code == 302
    assert [str(m) for m in nothing.wsgi_request._messages][-1] == (
        f"Dispute #{dispute.pk} has no credit awaiting approval."
    )


def _confirm_of(html: str, form_id_or_action: str) -> str:
    match = re.search(
        r"<form[^>]*" + re.escape(form_id_or_action) + r'[^>]*data-confirm="([^"]*)"', html
    )
    if match is None:  # data-confirm before the action
        match = re.search(
            r'<form[^>]*data-confirm="([^"]*)"[^>]*' + re.escape(form_id_or_action), html
        )
    assert match, f"no data-confirm on the form {form_id_or_action}"
    return match.group(1)


def test_the_other_irreversible_forms_ask_with_the_facts(
    billing_admin, services_manager, client_for
):
    account = AccountFactory(external_id="ACC-OF", name="Other Forms Ltd")
    contact = Contact.objects.create(
        account=account,
        email="jane@of.example",
        invited_by=billing_admin,
        invited_at=timezone.now(),
    )
    admin = client_for(billing_admin)
    asked = _confirm_of(admin.get("/contacts/").content.decode(), f"/contacts/{contact.pk}/revoke/")
    assert "jane@of.example" in asked and "Other Forms Ltd" in asked

    token, _ = token_create(user=billing_admin, name="CI import")
    asked = _confirm_of(
        admin.get("/accounts/tokens/").content.decode(), f"/accounts/tokens/{token.pk}/revoke/"
    )
    assert "CI import" in asked

    draft = InvoiceFactory(
        account=account, status="draft", net=Decimal("2500.00"), total=Decimal("2500.00")
    )
    html = admin.get(f"/invoices/{draft.pk}/").content.decode()
    for form in ('id="approve-form"', 'id="reject-form"'):
        asked = _confirm_of(html, form)
        assert "Other Forms Ltd" in asked and "USD 2,500.00" in asked, form

    flag = FlagFactory(code=Flag.Code.NO_AGREEMENT)
    html = client_for(services_manager).get(f"/time/flags/{flag.pk}/").content.decode()
    button = re.search(r'<button[^>]*value="write_off"[^>]*>', html)
    assert button and "data-confirm=" in button.group(0)
    assert flag.subject in button.group(0)
