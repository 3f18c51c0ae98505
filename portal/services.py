"""Writes for the portal: invite and revoke contacts, sign-in links and sessions, payment
notices, per-account options. Every contact action is recorded as a PortalEvent (the contact
is the actor); mail goes out after commit."""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from agreements.models import Account
from core import mail
from core.dates import firm_today
from core.errors import BillingError, require_reason
from core.money import format_money, round_money
from invoicing.models import Invoice
from portal import auth, mailing
from portal.models import (
    Contact,
    PaymentNotice,
    PortalAccount,
    PortalEvent,
    PortalSession,
    SignInLink,
)
from receivables.allocation import mask_card_numbers
from receivables.models import Payment

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

logger = logging.getLogger(__name__)


def guard_text(text: str, *, what: str, limit: int) -> str:
    """Every free text a contact sends: trimmed, card-like numbers masked, length-checked."""
    text = mask_card_numbers((text or "").strip())
    if len(text) > limit:
        raise BillingError(f"{what} is longer than {limit} characters.")
    return text


def event_record(*, contact: Contact, action: str, detail: str = "") -> PortalEvent:
    """Log what a contact did; its history row (the in-app History) names the contact."""
    event = PortalEvent(contact=contact, action=action, detail=detail[:500])
    _stamp(event, contact=contact).save()
    return event


def _stamp(obj, user=None, contact: Contact | None = None):
    obj._history_user = user
    if contact is not None:
        obj._change_reason = f"portal: {contact.email}"
    return obj


# --- contacts ----------------------------------------------------------------------------------


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise BillingError(f"{email or 'An empty value'} is not an e-mail address.") from None
    return email


def contact_invite(*, account: Account, email: str, user, name: str = "") -> Contact:
    """Invite (or re-invite a revoked) contact of an account and e-mail a sign-in link; refused
    while the invitation template is not approved (nobody previews it)."""
    email = _clean_email(email)
    mail.require_approved(mailing.link_mail_kind(invited=True))
    name = guard_text(name, what="Name", limit=200)
    with transaction.atomic():
        contact = Contact.objects.select_for_update().filter(account=account, email=email).first()
        if contact is not None and contact.is_active:
            raise BillingError(f"{email} is already a contact of {account.name}.")
        if contact is None:
            contact = Contact(account=account, email=email)
        contact.name = name or contact.name
        contact.invited_by = user
        contact.invited_at = timezone.now()
        contact.revoked_at = None
        contact.revoked_by = None
        _stamp(contact, user).save()
        _send_link(contact, invited=True)
    return contact


def contact_revoke(*, contact: Contact, user) -> Contact:
    """Revoke a contact: its links and sessions stop working at once."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if not contact.is_active:
            raise BillingError(f"{contact.email} is already revoked.")
        now = timezone.now()
        contact.revoked_at = now
        contact.revoked_by = user
        _stamp(contact, user).save()
        PortalSession.objects.filter(contact=contact, ended_at__isnull=True).update(ended_at=now)
        SignInLink.objects.filter(contact=contact, used_at__isnull=True).update(expires_at=now)
    return contact


def portal_account_set(
    *,
    account: Account,
    user,
    show_entries: bool | None = None,
    link_in_invoice_mail: bool | None = None,
) -> PortalAccount:
    """Per-account portal options; None leaves an option as it is."""
    with transaction.atomic():
        options, _ = PortalAccount.objects.select_for_update().get_or_create(account=account)
        if show_entries is not None:
            options.show_entries = show_entries
        if link_in_invoice_mail is not None:
            options.link_in_invoice_mail = link_in_invoice_mail
        _stamp(options, user).save()
    return options


# --- sign-in -----------------------------------------------------------------------------------


def _send_link(contact: Contact, *, invited: bool = False, next_path: str = "") -> None:
    """Create a link and mail it after commit (inside the caller's transaction); `next_path`
    (a portal path, auth.safe_next) is where signing in with it lands. The caller has checked
    that the mail's template is approved (mailing.link_mail_kind)."""
    token, token_digest = auth.new_token()
    now = timezone.now()
    SignInLink.objects.create(
        contact=contact,
        token_sha256=token_digest,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=settings.PORTAL_LINK_MINUTES),
    )
    url = settings.BILLING_SITE_URL + reverse("portal:signin_link", args=[token])
    next_path = auth.safe_next(next_path)
    if next_path:
        url += "?" + urlencode({"next": next_path})
    subject, body = mailing.link_mail(contact, url=url, invited=invited)
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [contact.email], fail_silently=False)
    )


def signin_link_request(*, email: str, next_path: str = "") -> int:
    """Mail a fresh link to every active contact with this address (one per account), at most
    PORTAL_LINKS_PER_HOUR per contact; signing in with it lands on `next_path` (a portal path,
    e.g. the invoice the invoice e-mail pointed to) or the portal home. Returns how many were
    sent; the page never says."""
    try:
        email = _clean_email(email)
    except BillingError:
        return 0
    reason = mail.not_approved_reason(mailing.link_mail_kind(invited=False))
    if reason:
        # Held: no link is created or mailed; the contact can ask again after the approval.
        logger.warning("portal: sign-in link for a contact not sent: %s", reason)
        return 0
    since = timezone.now() - dt.timedelta(hours=1)
    sent = 0
    with transaction.atomic():
        for contact in Contact.objects.select_for_update().filter(
            email=email, revoked_at__isnull=True
        ):
            if contact.links.filter(created_at__gt=since).count() >= settings.PORTAL_LINKS_PER_HOUR:
                continue
            _send_link(contact, next_path=next_path)
            event_record(contact=contact, action="link_requested")
            sent += 1
    return sent


def signin_link_check(*, token: str) -> SignInLink | None:
    """The link if it can still be used (for the confirmation page); no change."""
    return (
        SignInLink.objects.select_related("contact", "contact__account")
        .filter(
            token_sha256=auth.digest(token or ""),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            contact__revoked_at__isnull=True,
        )
        .first()
    )


def signin_link_redeem(*, token: str) -> tuple[Contact, str] | None:
    """Use a link once: a conditional UPDATE claims it, so two clicks (or two tabs) give one
    session. Returns (contact, session token) or None when the link is unknown, used, expired
    or its contact revoked."""
    now = timezone.now()
    with transaction.atomic():
        link = signin_link_check(token=token)
        if link is None:
            return None
        claimed = SignInLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now)
        if claimed != 1:
            return None
        session_token, session_digest = auth.new_token()
        PortalSession.objects.create(
            contact=link.contact,
            token_sha256=session_digest,
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.PORTAL_SESSION_HOURS),
        )
        event_record(contact=link.contact, action="signed_in")
    return link.contact, session_token


def portal_session_end(*, session: PortalSession) -> None:
    PortalSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
        ended_at=timezone.now()
    )
    event_record(contact=session.contact, action="signed_out")


# --- payment notices ---------------------------------------------------------------------------


def payment_notice_create(
    *,
    contact: Contact,
    date: dt.date,
    amount,
    reference: str = "",
    invoice: Invoice | None = None,
    currency: str = "",
) -> PaymentNotice:
    """A contact's "we paid" (date, amount, reference); finance matches it to a payment."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise BillingError("Amount must be a decimal amount.") from None
    if not value.is_finite() or value <= 0:
        raise BillingError("Amount must be greater than zero.")
    if round_money(value) != value or value >= Decimal("1e12"):
        raise BillingError("Amount must have at most 2 decimal places.")
    if date > firm_today():
        raise BillingError("The payment date cannot be in the future.")
    if invoice is not None and invoice.account_id != contact.account_id:
        raise BillingError("No such invoice.")
    currency = (invoice.currency if invoice is not None else currency).strip().upper()
    if not CURRENCY_RE.match(currency):
        raise BillingError("Currency must be a 3-letter ISO code such as USD.")
    reference = guard_text(reference, what="Reference", limit=200)
    with transaction.atomic():
        notice = PaymentNotice(
            contact=contact,
            account_id=contact.account_id,
            invoice=invoice,
            date=date,
            amount=round_money(value),
            currency=currency,
            reference=reference,
        )
        _stamp(notice, contact=contact).save()
        event_record(
            contact=contact,
            action="payment_notice",
            detail=f"{format_money(notice.amount, currency)} on {date.isoformat()}"
            + (f" for {invoice.number}" if invoice is not None else ""),
        )
    return notice


def _lock_expected(notice: PaymentNotice) -> PaymentNotice:
    notice = PaymentNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status != PaymentNotice.Status.EXPECTED:
        raise BillingError(f"This notice is already {notice.get_status_display().lower()}.")
    return notice


def payment_notice_match(*, notice: PaymentNotice, payment: Payment, user) -> PaymentNotice:
    """Finance confirms which recorded payment the notice announced."""
    with transaction.atomic():
        notice = _lock_expected(notice)
        if payment.account_id != notice.account_id or payment.currency != notice.currency:
            raise BillingError(
                f"Payment {payment.external_id} is not this account's payment in {notice.currency}."
            )
        if payment.notices.filter(status=PaymentNotice.Status.MATCHED).exists():
            raise BillingError(f"Payment {payment.external_id} is already matched to a notice.")
        notice.status = PaymentNotice.Status.MATCHED
        notice.payment = payment
        notice.handled_by = user
        notice.handled_at = timezone.now()
        _stamp(notice, user).save()
    return notice


def payment_notice_dismiss(*, notice: PaymentNotice, user, reason: str) -> PaymentNotice:
    reason = require_reason(reason, to="dismiss a notice")
    with transaction.atomic():
        notice = _lock_expected(notice)
        notice.status = PaymentNotice.Status.DISMISSED
        notice.note = reason[:2000]
        notice.handled_by = user
        notice.handled_at = timezone.now()
        _stamp(notice, user).save()
    return notice
