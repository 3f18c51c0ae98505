"""The portal's mail: what it adds to the invoice e-mail (issue 18), and its own invitation and
sign-in link messages (templates `portal_invite` and `portal_signin`, core/mail.py).

The invitation and sign-in mails are sent without a preview (a staff invite, a contact's own
request), so they use their template only once a billing admin approved it: until then an
invitation is refused with the reason and a requested sign-in link is not sent (nothing is
created; the page says nothing either way, as always). The demo seed approves the built-in texts
as its billing admin. See docs/screens.md.

The link is the sign-in request page, never a personal sign-in link (a mailed invoice may be
forwarded): a contact asks there for a link with their address. It is added by default when the
account has an active contact; `PortalAccount.link_in_invoice_mail` turns it off per account.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode

from core import mail
from invoicing.models import Invoice
from portal.models import Contact, PortalAccount


def invoice_mail_values(invoice: Invoice) -> dict[str, str]:
    """`portal_link` for the invoice mail template: a paragraph, or "" when not wanted."""
    off = PortalAccount.objects.filter(
        account_id=invoice.account_id, link_in_invoice_mail=False
    ).exists()
    if (
        off
        or not Contact.objects.filter(
            account_id=invoice.account_id, revoked_at__isnull=True
        ).exists()
    ):
        return {"portal_link": ""}
    # The sign-in page keeps `next` through the link it mails: signing in opens this invoice.
    target = urlencode({"next": reverse("portal:invoice", args=[invoice.pk])})
    url = settings.BILLING_SITE_URL + reverse("portal:signin") + "?" + target
    return {
        "portal_link": (
            "\n\nSee this invoice, download it (PDF, e-invoice), tell us about a payment or "
            f"question it in our customer portal: {url} (ask there for a sign-in link with your "
            "e-mail address)."
        )
    }


def link_mail_kind(*, invited: bool) -> str:
    return "portal_invite" if invited else "portal_signin"


def link_mail(contact: Contact, *, url: str, invited: bool) -> tuple[str, str]:
    """Subject and body of an invitation or sign-in mail carrying the link `url`."""
    minutes = settings.PORTAL_LINK_MINUTES
    values = {
        "greeting": f"Hello {contact.name}" if contact.name else "Hello",
        "contact": contact.name or contact.email,
        "customer": contact.account.name,
        "link": url,
        "minutes": f"{minutes} minute{'' if minutes == 1 else 's'}",
        "signin_page": settings.BILLING_SITE_URL + reverse("portal:signin"),
        "firm": settings.BILLING_FIRM_NAME,
    }
    return mail.render(link_mail_kind(invited=invited), 0, values)
