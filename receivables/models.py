"""Cash received, how it was applied, and reminders sent (SPEC 4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from agreements.models import Account
from invoicing.models import Invoice

MONEY = {"max_digits": 14, "decimal_places": 2}


class Payment(models.Model):
    external_id = models.CharField("Payment ID", max_length=64, unique=True)
    date = models.DateField()
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    # Card-like digit runs are masked before saving: no card number is ever stored.
    reference = models.CharField(max_length=500, blank=True)
    method = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-date", "external_id"]
        constraints = [models.CheckConstraint(name="payment_positive", condition=Q(amount__gt=0))]

    def __str__(self) -> str:
        return f"{self.external_id} {self.currency} {self.amount}"


class Allocation(models.Model):
    """Part of a payment applied to an invoice. Reversed, never deleted."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(**MONEY)
    date = models.DateField(help_text="The payment's date, or the day it was applied by hand.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_on = models.DateField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reversal_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(name="allocation_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="allocation_reversal_has_reason",
                condition=Q(reversed_on__isnull=True) | ~Q(reversal_reason=""),
            ),
        ]

    def __str__(self) -> str:
        state = f" (reversed {self.reversed_on})" if self.reversed_on else ""
        return f"{self.amount} of payment #{self.payment_id} to invoice #{self.invoice_id}{state}"


class Reminder(models.Model):
    """A dunning reminder; one per (invoice, level)."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        # Several levels fell due at once: only the highest is mailed, the lower ones are recorded.
        SUPERSEDED = "superseded", "Skipped (a higher level was sent)"
        NO_EMAIL = "no_email", "Skipped (no billing email)"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="reminders")
    level = models.PositiveSmallIntegerField(help_text="Days past due that triggered it.")
    sent_on = models.DateField(help_text="The dunning day (firm time zone) it was recorded on.")
    sent_to = models.EmailField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SENT)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-sent_on", "invoice"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="reminder_once_per_level")
        ]

    def __str__(self) -> str:
        return f"Invoice #{self.invoice_id} level {self.level} ({self.status}, {self.sent_on})"
