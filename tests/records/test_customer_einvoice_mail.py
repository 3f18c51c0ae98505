"""The per-account "UBL by e-mail" switch on the customer page (SPEC 3.2, issue 14): a billing admin
turns it on and off there (recorded in the account's history with who did it), and the next
invoice e-mail carries the UBL file beside the Factur-X PDF; other roles see the setting but may
not change it, and the server refuses them."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from agreements.models import Account
from invoicing.services import invoice_send
from tests.invoicing.helpers import approve
from tests.world.einvoice import two_rate_draft

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def switch(client, account, on: str):
    url = reverse("records:customer_einvoice_mail", args=[account.pk])
    return client.post(url, {"ubl_by_email": on}, follow=True)


def test_billing_admin_turns_on_the_ubl_and_the_next_invoice_mail_carries_it(
    client_for, billing_admin, django_capture_on_commit_callbacks
):
    invoice = approve(invoice=two_rate_draft(), user=billing_admin)
    account = invoice.account
    client = client_for(billing_admin)
    page = client.get(reverse("records:customer", args=[account.pk])).content.decode()
    assert "Factur-X PDF only" in page and "also attach the UBL file" in page

    response = switch(client, account, "1")
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("records:customer", args=[account.pk])
    assert "Invoice e-mails to Bolt GmbH now carry the Factur-X PDF and the UBL file." in html
    assert "Factur-X PDF and UBL file" in html and "stop attaching the UBL file" in html
    account.refresh_from_db()
    assert account.einvoice_ubl_by_email is True
    record = account.history.latest()
    assert (record.history_user, record.history_change_reason) == (
        billing_admin,
        "UBL by e-mail turned on",
    )

    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice, user=billing_admin)
    (message,) = mail.outbox
    assert [a[0] for a in message.attachments] == [
        f"{invoice.number}.pdf",
        f"{invoice.number}.ubl.xml",
    ]
    assert b"<cbc:ID>" + invoice.number.encode() in message.attachments[1][1]

    switch(client, account, "0")
    account.refresh_from_db()
    assert account.einvoice_ubl_by_email is False
    assert account.history.latest().history_change_reason == "UBL by e-mail turned off"
    invoice.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        invoice_send(invoice=invoice, user=billing_admin)
    assert [a[0] for a in mail.outbox[1].attachments] == [f"{invoice.number}.pdf"]

    # Setting the value it already has writes no history.
    before = account.history.count()
    switch(client, account, "0")
    assert account.history.count() == before


@pytest.mark.parametrize("persona", ["services_manager", "finance", "auditor"])
def test_other_roles_see_the_setting_but_cannot_change_it(request, client_for, persona):
    account = Account.objects.create(external_id="ACC-9", name="Nine Ltd")
    client = client_for(request.getfixturevalue(persona))
    page = client.get(reverse("records:customer", args=[account.pk])).content.decode()
    assert "Factur-X PDF only" in page
    assert "also attach the UBL file" not in page
    assert reverse("records:customer_einvoice_mail", args=[account.pk]) not in page
    response = client.post(
        reverse("records:customer_einvoice_mail", args=[account.pk]), {"ubl_by_email": "1"}
    )
    assert response.status_code == 403
    assert Account.objects.get(pk=account.pk).einvoice_ubl_by_email is False
    assert account.history.count() == 1
