"""Customer portal: contacts of an account, their sign-in links and sessions, what they did,
and the payments they told us about (SPEC 7: contacts see only their own account).

A contact is not a Django user: portal sessions are rows here, reached through their own cookie,
so no portal sign-in ever authenticates a staff page or the API. Secrets (link and session
tokens) are stored only as SHA-256 digests.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from agreements.models import Account
from core.money import MONEY_DIGITS as MONEY
from invoicing.models import Invoice
from receivables.models import Payment


class PortalAccount(models.Model):
    """Per-account portal options set by the firm."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="portal")
    show_entries = models.BooleanField(
        default=False, help_text="Contacts see the time entries behind each invoice line."
    )
    link_in_invoice_mail = models.BooleanField(
        default=True,
        help_text="Invoice e-mails name the portal and where to ask for a sign-in link "
        "(when the account has an active contact).",
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Portal options of {self.account}"


class Contact(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="contacts")
    email = models.EmailField(help_text="Stored lower-case.")
    name = models.CharField(max_length=200, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    invited_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["account__name", "email"]
        constraints = [
            models.UniqueConstraint(fields=["account", "email"], name="contact_unique_per_account"),
            models.CheckConstraint(
                name="contact_email_lower", condition=Q(email__regex=r"^[^A-Z]*$")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.account})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class SignInLink(models.Model):
    """A single-use, short-lived sign-in link; only the digest of its token is kept."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="links")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Link for contact #{self.contact_id} ({'used' if self.used_at else 'unused'})"


class PortalSession(models.Model):
    """A signed-in contact; the cookie holds the token, this row its digest."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="sessions")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Session of contact #{self.contact_id}"


class PortalEvent(models.Model):
    """What a contact did in the portal (append-only; the contact is the actor)."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=40)
    detail = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)
    # Append-only, but kept in history too: the in-app History (records/history.py) reads the
    # history tables, so what a contact did sits there beside what staff did.
    history = HistoricalRecords()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.contact.email}: {self.action} {self.detail}"


class PaymentNotice(models.Model):
    """A contact's "we paid": finance sees it as an expected payment and matches it."""

    class Status(models.TextChoices):
        EXPECTED = "expected", "Expected"
        MATCHED = "matched", "Matched to a payment"
        DISMISSED = "dismissed", "Dismissed"

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="notices")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payment_notices")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_notices"
    )
    date = models.DateField(help_text="The day the customer says they paid.")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    # Card-like digit runs are masked before saving: no card number is ever stored.
    reference = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.EXPECTED)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="notices"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="notice_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="notice_matched_has_payment",
                condition=~Q(status="matched") | Q(payment__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} says {self.currency} {self.amount} paid on {self.date}"
