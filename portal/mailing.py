"""What the portal adds to the invoice e-mail (issue 18): where the customer's contacts see the
invoice, download it and its e-invoice, tell us about a payment or question it.

The link is the sign-in request page, never a personal sign-in link (a mailed invoice may be
forwarded): a contact asks there for a link with their address. It is added by default when the
account has an active contact; `PortalAccount.link_in_invoice_mail` turns it off per account.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode

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
