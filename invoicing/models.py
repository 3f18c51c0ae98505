"""Invoices, their lines, what each line bills, runs, numbering and credit notes (SPEC 3)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from agreements.models import Account, Agreement, Milestone
from core.money import MONEY_DIGITS as MONEY
from core.runs import RunBase
from timesheets.models import TimeEntry


class InvoiceRun(RunBase):
    """One generation run for a period, with the progress and counts the review screen polls
    (lifecycle, heartbeat and recovery: core/runs.py)."""

    period = models.DateField(help_text="First day of the billed month.")
    groups_total = models.PositiveIntegerField(default=0)
    groups_done = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    invoices_updated = models.PositiveIntegerField(default=0)
    lines_written = models.PositiveIntegerField(default=0)
    entries_billed = models.PositiveIntegerField(default=0)

    class Meta(RunBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Run {self.period:%Y-%m} ({self.status})"


class ApprovalJob(RunBase):
    """Approval of a period's drafts in the background (issue 16): numbers taken in one short
    transaction per batch of drafts, the final PDFs rendered by workers after each commit. The
    counts are the progress the review screen shows (lifecycle, heartbeat and recovery:
    core/runs.py, as for invoice and reconciliation runs)."""

    period = models.DateField(help_text="First day of the billed month.")
    versions = models.JSONField(
        default=dict, help_text="Draft id -> the version the approver reviewed."
    )
    total = models.PositiveIntegerField(default=0)
    approved = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    refusals = models.JSONField(default=list, blank=True, help_text="[draft id, why] per refusal.")
    # An invoice is approved by a person: unlike a run (which the beat may start), never null.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(RunBase.Meta):
        pass

    @property
    def versions_by_id(self) -> dict[int, int]:
        return {int(k): int(v) for k, v in self.versions.items()}

    def __str__(self) -> str:
        return f"Approval of {self.period:%Y-%m} ({self.status}: {self.approved}/{self.total})"


# An invoice's summary columns, in one order: the API's invoice fields and the invoice list's CSV
# both show them (account_id, account_name and open_amount are the readers' own, not columns).
INVOICE_SUMMARY = (
    "account_id",
    "account_name",
    "currency",
    "po_number",
    "period",
    "invoice_date",
    "due_date",
    "net",
    "tax",
    "total",
    "open_amount",
)


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        APPROVED = "approved"
        SENT = "sent"
        PARTIALLY_PAID = "partially_paid"
        PAID = "paid"
        REJECTED = "rejected"

    FINAL_STATUSES = frozenset({"approved", "sent", "partially_paid", "paid"})

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3)
    po_number = models.CharField("PO Number", max_length=64, blank=True)
    period = models.DateField(help_text="First day of the billed month.")
    invoice_date = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    number_year = models.PositiveSmallIntegerField(null=True, blank=True)
    number_seq = models.PositiveIntegerField(null=True, blank=True)
    net = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    billing_email = models.EmailField(blank=True)
    run = models.ForeignKey(
        InvoiceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Last user who adjusted the draft; another user must approve it.",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.EmailField(blank=True)
    disputed = models.BooleanField(default=False)
    dispute_reason = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="Printed on the invoice and sent in e-invoices.")
    terms = models.TextField(
        blank=True, help_text="Payment terms text; blank = 'Payable within N days' from the dates."
    )
    parties = models.JSONField(
        default=dict,
        blank=True,
        help_text="Seller and buyer as they stood at approval (invoicing/einvoice/parties.py).",
    )
    version = models.PositiveIntegerField(
        default=1,
        help_text="Incremented by every change to the draft (adjustment, added line, a run adding "
        "entries); approval names the version the approver saw.",
    )
    pdf = models.FileField(
        upload_to="invoices/",
        blank=True,
        help_text="The final PDF, stored once by a worker after approval; empty while rendering.",
    )
    pdf_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-invoice_date", "number", "id"]
        constraints = [
            # One open draft per billing group and period: re-runs add to it (SPEC 3, idempotent).
            models.UniqueConstraint(
                fields=["account", "currency", "po_number", "period"],
                condition=Q(status="draft"),
                name="invoice_one_open_draft_per_group",
            ),
            models.UniqueConstraint(
                fields=["number_year", "number_seq"], name="invoice_number_unique_per_year"
            ),
            models.CheckConstraint(
                name="invoice_final_has_number",
                condition=Q(status__in=["draft", "rejected"]) | Q(number__isnull=False),
            ),
            # Exact: numeric columns, no tolerance.
            models.CheckConstraint(
                name="invoice_total_is_net_plus_tax",
                condition=Q(total=models.F("net") + models.F("tax")),
            ),
        ]
        indexes = [models.Index(fields=["status", "period"], name="invoice_status_period")]

    def __str__(self) -> str:
        return self.number or f"Draft #{self.pk}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def pdf_status(self) -> str:
        """`rendering` from approval until the worker has stored the final PDF, then `ready`;
        `preview` for drafts and rejected invoices (rendered on demand, watermarked)."""
        if not self.is_final:
            return "preview"
        return "ready" if self.pdf else "rendering"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        TIME = "time", "Time"
        BLOCK = "block", "Prepaid block"
        MILESTONE = "milestone", "Milestone"
        ADJUSTMENT = "adjustment", "Adjustment"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=500)
    role = models.CharField(
        max_length=100, blank=True, help_text="Rate-card role; blank = default rate."
    )
    minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rounded minutes billed."
    )
    hours = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    rate = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(**MONEY)
    tax_rate = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0"))
    tax_category = models.CharField(
        max_length=2, blank=True, help_text="EN 16931 VAT category; blank = S or Z by tax rate."
    )
    tax_exemption_reason = models.CharField(max_length=300, blank=True)
    service_start = models.DateField(null=True, blank=True)
    service_end = models.DateField(null=True, blank=True)
    priced_amount = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="The amount as priced, kept when an adjustment changes `amount`; "
        "the customer sees the difference as a discount or surcharge.",
    )
    adjustment_reason = models.TextField(
        blank=True, help_text="Internal: history and review screen only, never printed."
    )
    adjusted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["invoice", "position", "id"]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"

    @property
    def vat_category(self) -> str:
        return self.tax_category or ("S" if self.tax_rate > 0 else "Z")


class InvoiceAdjustment(models.Model):
    """One change a billing admin made to a draft: who, when, the line before and after, why.

    Append-only: a new row per change, never updated or deleted (a PostgreSQL trigger refuses
    both), so a later edit of the same line cannot hide an earlier one. Every user with a row here
    is barred from approving the invoice (SPEC 3, four eyes)."""

    class Kind(models.TextChoices):
        CHANGE = "change", "Changed a line"
        ADD = "add", "Added a line"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    # A plain id, not a foreign key: a later run may replace the line, the record stays as it was.
    line_id = models.BigIntegerField(help_text="Id of the line changed or added.")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    version = models.PositiveIntegerField(help_text="The draft's version after this change.")
    before_description = models.CharField(max_length=500, blank=True)
    after_description = models.CharField(max_length=500)
    before_amount = models.DecimalField(**MONEY, null=True, blank=True)
    after_amount = models.DecimalField(**MONEY)
    reason = models.TextField()

    class Meta:
        ordering = ["invoice", "created_at", "id"]
        constraints = [
            models.CheckConstraint(name="invoice_adjustment_has_reason", condition=~Q(reason="")),
            models.CheckConstraint(
                name="invoice_adjustment_kind",
                condition=Q(kind="change", before_amount__isnull=False)
                | Q(kind="add", before_amount__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on invoice {self.invoice_id} by user {self.user_id}"


class EntryBilling(models.Model):
    """How one time entry was billed. One row per entry: the database refuses billing it twice.

    Rounded minutes are split between the prepaid block (`block_minutes`, on no invoice line) and
    the line (`billed_minutes`). Rejecting a draft deletes its rows: the entries go back to the pool.
    """

    entry = models.OneToOneField(TimeEntry, on_delete=models.PROTECT, related_name="billing")
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="entry_billings"
    )
    line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.PROTECT, related_name="entry_billings"
    )
    period = models.DateField()
    rounded_minutes = models.PositiveIntegerField()
    block_minutes = models.PositiveIntegerField(default=0)
    billed_minutes = models.PositiveIntegerField(default=0)
    # A run writes one history row per billed entry (25,000 a month at the firm scale): its
    # history keeps the indexes on the row's own id and entry, not the copies of the
    # agreement/invoice/line foreign keys' indexes, which nothing reads by (issue 16).
    history = HistoricalRecords(no_db_index=["agreement", "invoice", "line"])

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="entry_billing_minutes_add_up",
                condition=Q(rounded_minutes=models.F("block_minutes") + models.F("billed_minutes")),
            ),
            models.CheckConstraint(
                name="entry_billing_line_iff_billed",
                condition=(Q(billed_minutes=0) & Q(line__isnull=True))
                | (Q(billed_minutes__gt=0) & Q(line__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"entry {self.entry_id}: {self.block_minutes} block + {self.billed_minutes} billed min"
        )


class MilestoneBilling(models.Model):
    """A Fixed Fee milestone billed on a line; unique so a milestone is billed once."""

    milestone = models.OneToOneField(Milestone, on_delete=models.PROTECT, related_name="billing")
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="milestone_billings"
    )
    line = models.OneToOneField(
        InvoiceLine, on_delete=models.PROTECT, related_name="milestone_billing"
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"milestone {self.milestone_id} on invoice {self.invoice_id}"


class BlockBilling(models.Model):
    """A Prepaid Hours agreement's block, billed once."""

    agreement = models.OneToOneField(
        Agreement, on_delete=models.PROTECT, related_name="block_billing"
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="block_billings")
    line = models.OneToOneField(InvoiceLine, on_delete=models.PROTECT, related_name="block_billing")
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"block of agreement {self.agreement_id} on invoice {self.invoice_id}"


class NumberSequence(models.Model):
    """Gapless numbering: the row for (series, year) is locked while a number is taken, inside
    the approving transaction, so a rollback gives the number back (invoicing/numbering.py)."""

    series = models.CharField(max_length=8)  # "INV" or "CN"
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "year"], name="number_sequence_unique")
        ]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: last {self.last}"


class CreditNote(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=20, unique=True)
    number_year = models.PositiveSmallIntegerField()
    number_seq = models.PositiveIntegerField()
    date = models.DateField()
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    pdf = models.FileField(upload_to="credit_notes/", blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-date", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["number_year", "number_seq"], name="credit_note_number_unique_per_year"
            ),
            models.CheckConstraint(name="credit_note_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="credit_note_has_reason", condition=~Q(reason="")),
        ]

    def __str__(self) -> str:
        return self.number
