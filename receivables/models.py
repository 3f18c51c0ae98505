"""Cash received, how it was applied, and reminders sent (SPEC 4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from agreements.models import Account
from core.money import MONEY_DIGITS as MONEY
from invoicing.models import CreditNote, Invoice, InvoiceLine


class Payment(models.Model):
    external_id = models.CharField("Payment ID", max_length=64, unique=True)
    date = models.DateField()
    # Null = unassigned (SPEC 1.4): a statement credit whose payer is not known yet. It counts for
    # no account (aging, unapplied cash, statements) until finance assigns it.
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    # Card-like digit runs are masked before saving: no card number is ever stored.
    reference = models.CharField(max_length=500, blank=True)
    method = models.CharField(max_length=64, blank=True)
    source = models.CharField(
        max_length=16, default="billable", help_text="The import source it came from (SPEC 1.4)."
    )
    payer_name = models.CharField(max_length=140, blank=True, help_text="As the bank wrote it.")
    payer_iban = models.CharField(max_length=34, blank=True, help_text="Without spaces.")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The import that created it (import history, undo); null for one entered by hand.
    import_record = models.ForeignKey(
        "core.ImportRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-date", "external_id"]
        constraints = [
            models.CheckConstraint(name="payment_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="payment_assigned_has_account",
                condition=Q(assigned_at__isnull=True) | Q(account__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["date"], name="payment_unassigned_idx", condition=Q(account__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.currency} {self.amount}"

    @property
    def is_assigned(self) -> bool:
        return self.account_id is not None


class KnownPayer(models.Model):
    """A payer finance has assigned once: the IBAN or the name a bank writes -> the account.

    Statement imports look payers up here (after invoice numbers in the text) so the next payment
    from the same payer finds its account without help (SPEC 1.4)."""

    class Kind(models.TextChoices):
        IBAN = "iban", "IBAN"
        NAME = "name", "Name"

    kind = models.CharField(max_length=4, choices=Kind.choices)
    key = models.CharField(
        max_length=140, help_text="IBAN without spaces in capitals, or the name case-folded."
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="known_payers")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "key"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="known_payer_once_per_key")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key} -> {self.account_id}"


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
        indexes = [
            # The live allocations of a page of customers' invoices, read from the index alone
            # (records/customers.py `balances`): at xl, 222,000 allocations, the planner
            # otherwise scanned them all for a page of 50 customers (57 ms -> 6 ms).
            models.Index(
                fields=["invoice"],
                include=["amount"],
                condition=Q(reversed_on__isnull=True),
                name="allocation_live_by_invoice",
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


class Dispute(models.Model):
    """A customer's objection to an invoice or some of its lines. While it is open the invoice is
    `disputed` (automatic allocation and dunning skip it); it ends by a credit note, a rejection
    with a reason, a re-bill, or withdrawal. At most one open dispute per invoice."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING_APPROVAL = "pending_approval", "Credit awaiting approval"
        CREDITED = "credited", "Resolved by credit note"
        REJECTED = "rejected", "Rejected"
        REBILLED = "rebilled", "Credited and re-billed"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN_STATUSES = frozenset({"open", "pending_approval"})

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    lines = models.ManyToManyField(InvoiceLine, blank=True, related_name="disputes")
    category = models.CharField(max_length=32, help_text="A key of BILLING_DISPUTE_CATEGORIES.")
    sla_days = models.PositiveSmallIntegerField(
        help_text="Resolution SLA in calendar days, taken from the category when opened."
    )
    sla_due_at = models.DateTimeField(help_text="opened_at + sla_days: resolve by then.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_by_customer = models.EmailField(
        blank=True, help_text="The portal contact who opened it (empty: opened by staff)."
    )
    credit_amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Credit proposed or issued, invoice currency."
    )
    credit_reason = models.TextField(blank=True)
    credit_proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    credit_note = models.ForeignKey(
        CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="disputes"
    )
    credit_rebill = models.BooleanField(
        default=False,
        help_text="The proposed credit is a re-bill: the open amount credited and the lines "
        "copied onto a draft when it is issued.",
    )
    rebill_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="rebilled_disputes"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who closed it; for a credit, the approver.",
    )
    resolution_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"],
                condition=Q(status__in=["open", "pending_approval"]),
                name="dispute_one_open_per_invoice",
            ),
            models.CheckConstraint(
                name="dispute_resolved_iff_closed",
                condition=(
                    Q(status__in=["open", "pending_approval"], resolved_at__isnull=True)
                    | (~Q(status__in=["open", "pending_approval"]) & Q(resolved_at__isnull=False))
                ),
            ),
            models.CheckConstraint(
                name="dispute_rejection_has_reason",
                condition=~Q(status="rejected") | ~Q(resolution_note=""),
            ),
            models.CheckConstraint(
                name="dispute_credited_has_note",
                condition=~Q(status="credited") | Q(credit_note__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["status", "opened_at"], name="dispute_status_opened")]

    def __str__(self) -> str:
        return f"Dispute #{self.pk} on invoice #{self.invoice_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class DisputeMessage(models.Model):
    """One message of a dispute's thread; internal notes are never shown to the customer."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="messages")
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_customer = models.EmailField(
        blank=True, help_text="The portal contact who wrote it (empty: staff)."
    )
    internal = models.BooleanField(default=False, help_text="Staff only; hidden from the customer.")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(name="dispute_message_not_empty", condition=~Q(body="")),
            models.CheckConstraint(
                name="dispute_message_customer_not_internal",
                condition=Q(author_customer="") | Q(internal=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Message #{self.pk} on dispute #{self.dispute_id}"


class DisputeAttachment(models.Model):
    """A file sent with a message. Stored under a random name (never the sender's), served only
    as a download with the type we detected (receivables/attachments.py)."""

    message = models.ForeignKey(
        DisputeMessage, on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to="dispute_attachments/%Y/%m/")
    original_name = models.CharField(max_length=120, help_text="Sanitised name to show.")
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name
