"""The invoice e-mail names the portal and where to ask for a sign-in link (issue 18), by default
for an account with an active contact; a per-account option (contacts page) turns it off."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils.http import urlencode

from agreements.models import Account
from invoicing.services import invoice_send
from portal import services
from portal.models import PortalAccount

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

LINK = "customer portal: http://portal.test/portal/signin/"


def send(invoice, user, capture) -> str:
    mail.outbox.clear()
    with capture(execute=True):
        invoice_send(invoice=invoice, user=user, to=["ap@alpha.example"])
    (message,) = mail.outbox
    return message.body


@pytest.mark.django_db
def test_invoice_mail_carries_the_portal_link_by_default(
    alpha, billing_admin, django_capture_on_commit_callbacks
):
    body = send(alpha.invoice, billing_admin, django_capture_on_commit_callbacks)
    assert LINK in body
    # The request page, never a personal (forwardable) sign-in link.
    assert "/portal/signin/" in body and "/portal/signin/ey" not in body
    assert body.index("Please transfer") < body.index(LINK) < body.index("Kind regards")


@pytest.mark.django_db
def test_the_option_turns_it_off_and_on(
    alpha, billing_admin, finance, client_for, django_capture_on_commit_callbacks
):
    client = client_for(finance)
    page = client.get("/contacts/").content.decode()
    assert "Portal in invoice mail" in page
    client.post(f"/contacts/accounts/{alpha.account.pk}/options/", {"link_in_invoice_mail": "0"})
    options = PortalAccount.objects.get(account=alpha.account)
    assert options.link_in_invoice_mail is False
    assert options.history.latest().history_user == finance
    assert LINK not in send(alpha.invoice, billing_admin, django_capture_on_commit_callbacks)
    services.portal_account_set(account=alpha.account, link_in_invoice_mail=True, user=finance)
    assert LINK in send(alpha.invoice, billing_admin, django_capture_on_commit_callbacks)


@pytest.mark.django_db
def test_no_link_without_an_active_contact(
    alpha, billing_admin, finance, django_capture_on_commit_callbacks
):
    services.contact_revoke(contact=alpha.contact, user=finance)
    body = send(alpha.invoice, billing_admin, django_capture_on_commit_callbacks)
    assert "portal" not in body
    assert Account.objects.filter(pk=alpha.account.pk).exists()


@pytest.mark.django_db
def test_auditor_cannot_change_the_option(alpha, auditor, client_for):
    response = client_for(auditor).post(
        f"/contacts/accounts/{alpha.account.pk}/options/", {"link_in_invoice_mail": "0"}
    )
    assert response.status_code == 403
    assert not PortalAccount.objects.filter(account=alpha.account).exists()


@pytest.mark.django_db
def test_from_the_invoice_mail_to_that_invoice_signed_in(
    alpha, billing_admin, django_capture_on_commit_callbacks, settings
):
    """The mailed portal address asks for a sign-in link; the link it sends signs the contact
    in on the invoice of the mail, and no `next` leads off the portal."""
    import re

    from django.test import Client

    settings.PORTAL_LINKS_PER_HOUR = settings.PORTAL_SIGNIN_PER_EMAIL = 20
    settings.PORTAL_SIGNIN_PER_ADDRESS = 50

    body = send(alpha.invoice, billing_admin, django_capture_on_commit_callbacks)
    mailed = re.search(r"customer portal: (http://portal\.test(\S+))", body).group(2)
    assert mailed == f"/portal/signin/?next=%2Fportal%2Finvoices%2F{alpha.invoice.pk}%2F"
    client = Client()
    assert client.get(mailed).status_code == 200
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(mailed, {"email": alpha.contact.email})
    (sign_in,) = mail.outbox
    link = re.search(r"http://portal\.test(/portal/signin/[\w-]+/\S*)", sign_in.body).group(1)
    assert link.endswith(f"/?next=%2Fportal%2Finvoices%2F{alpha.invoice.pk}%2F")
    assert client.get(link).status_code == 200  # the confirmation page; the form posts here
    landed = client.post(link)
    assert landed.status_code == 302
    assert landed["Location"] == f"/portal/invoices/{alpha.invoice.pk}/"
    page = client.get(landed["Location"]).content.decode()
    assert f'<strong class="quote">{alpha.invoice.number}</strong>' in page

    for target in (
        "https://evil.example/portal/",
        "//evil.example/portal/",
        "/portal//evil.example",
        "/portal/\\\\evil.example",
        "/admin/",
        "javascript:alert(1)",
    ):
        mail.outbox.clear()
        other = Client()
        with django_capture_on_commit_callbacks(execute=True):
            other.post(
                "/portal/signin/?" + urlencode({"next": target}), {"email": alpha.contact.email}
            )
        (sign_in,) = mail.outbox
        link = re.search(r"http://portal\.test(/portal/signin/[\w-]+/\S*)", sign_in.body).group(1)
        assert "next" not in link, target
        # A link whose query was tampered with afterwards lands on the portal home.
        landed = other.post(link + "?" + urlencode({"next": target}))
        assert landed["Location"] == "/portal/", target
