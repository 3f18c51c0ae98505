"""Customers and what was sold to them (SPEC 1.1). The CRM is the source of truth."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

BILLING_INCREMENTS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)


class Account(models.Model):
    external_id = models.CharField("Account ID", max_length=64, unique=True)
    name = models.CharField("Account Name", max_length=255)
    billing_email = models.EmailField(blank=True)
    # The buyer on invoices and e-invoices (SPEC 1.1, 3.1); the CRM fills them, blank = unknown.
    billing_address = models.TextField(blank=True, help_text="Street lines, one per line.")
    billing_city = models.CharField(max_length=100, blank=True)
    billing_postal_code = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166-1 alpha-2; blank = the firm's country."
    )
    buyer_vat_id = models.CharField("Buyer VAT ID", max_length=40, blank=True)
    buyer_reference = models.CharField(
        max_length=100, blank=True, help_text="The customer's reference, e.g. a Leitweg-ID."
    )
    einvoice_ubl_by_email = models.BooleanField(
        "attach UBL to invoice e-mails",
        default=False,
        help_text="Invoice e-mails always carry the Factur-X PDF; also attach the UBL file.",
    )
    # The import that created or last changed it (undo of an import, SPEC 1.4).
    import_record = models.ForeignKey(
        "core.ImportRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "external_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


TAX_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
# EN 16931 VAT categories that need an exemption reason on the invoice (BR-E-10, BR-AE-10, ...).
EXEMPT_CATEGORIES = frozenset({"E", "AE", "K", "G", "O"})


def default_tax_category(rate: Decimal) -> str:
    """SPEC 1.1: standard rate when the agreement charges tax, zero-rated when it does not."""
    return "S" if rate > 0 else "Z"


# The terms stored on the agreement's own row (SPEC 1.1 columns), in one list: the import compares
# them to decide created / updated / unchanged, and the API shows them.
AGREEMENT_TERMS = (
    "project_code",
    "agreement_type",
    "stage",
    "start_date",
    "end_date",
    "hours_sold",
    "not_to_exceed_hours",
    "amount",
    "hourly_rate",
    "billing_increment",
    "currency",
    "payment_terms",
    "po_number",
    "tax_rate",
    "name",
    "tax_category",
    "tax_exemption_reason",
)


class Agreement(models.Model):
    class Type(models.TextChoices):
        TIME_AND_MATERIALS = "time_and_materials", "Time and Materials"
        FIXED_FEE = "fixed_fee", "Fixed Fee"
        PREPAID_HOURS = "prepaid_hours", "Prepaid Hours"

    class Stage(models.TextChoices):
        SIGNED = "signed", "Signed"
        DRAFT = "draft", "Draft"
        CANCELLED = "cancelled", "Cancelled"

    external_id = models.CharField("Agreement ID", max_length=64, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="agreements")
    project_code = models.CharField(max_length=64, db_index=True)
    agreement_type = models.CharField(max_length=24, choices=Type.choices)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Empty = open-ended.")
    hours_sold = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hours: estimate (T&M) or block size (Prepaid Hours).",
    )
    not_to_exceed_hours = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Hours: T&M cap."
    )
    amount = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Fee (Fixed Fee) or block price (Prepaid Hours), in the agreement currency.",
    )
    hourly_rate = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Default rate per hour."
    )
    billing_increment = models.PositiveSmallIntegerField(default=15, help_text="Minutes.")
    currency = models.CharField(max_length=3, default="USD")
    payment_terms = models.PositiveSmallIntegerField(default=30, help_text="Days.")
    po_number = models.CharField("PO Number", max_length=64, blank=True)
    tax_rate = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("0"), help_text="Percent."
    )
    name = models.CharField(
        "Agreement Name",
        max_length=200,
        blank=True,
        help_text="Customer-facing name on invoice lines; blank = the Project Code.",
    )
    tax_category = models.CharField(
        max_length=2,
        blank=True,
        help_text="EN 16931 VAT category code (S, Z, E, AE, K, G, O); blank = S or Z by Tax Rate.",
    )
    tax_exemption_reason = models.CharField(max_length=300, blank=True)
    # The import that created or last changed it (undo of an import, SPEC 1.4).
    import_record = models.ForeignKey(
        "core.ImportRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["external_id"]
        constraints = [
            models.CheckConstraint(
                name="agreement_end_not_before_start",
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
            ),
            models.CheckConstraint(
                name="agreement_billing_increment_allowed",
                condition=Q(billing_increment__in=BILLING_INCREMENTS),
            ),
            models.CheckConstraint(
                name="agreement_not_own_parent", condition=~Q(parent=models.F("id"))
            ),
            models.CheckConstraint(
                name="agreement_tax_category_known",
                condition=Q(tax_category__in=("", *TAX_CATEGORIES)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.project_code}"

    @property
    def is_signed(self) -> bool:
        return self.stage == self.Stage.SIGNED

    @property
    def vat_category(self) -> str:
        return self.tax_category or default_tax_category(self.tax_rate)

    @property
    def display_name(self) -> str:
        """What the customer reads on an invoice line."""
        return self.name or self.project_code


class RoleRate(models.Model):
    """One entry of an agreement's rate card ("Engineer=150")."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="role_rates")
    role = models.CharField(max_length=100, help_text="As written in the CRM.")
    role_key = models.CharField(max_length=100, help_text="Lower-cased role, for matching.")
    rate = models.DecimalField(max_digits=12, decimal_places=2, help_text="Per hour.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["agreement", "role_key"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "role_key"], name="role_rate_unique_role"),
            models.CheckConstraint(name="role_rate_positive", condition=Q(rate__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.role}={self.rate}"


class Milestone(models.Model):
    """A Fixed Fee payment milestone. Dated ones bill in their period; undated ones once completed."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="milestones")
    position = models.PositiveSmallIntegerField(help_text="Order in the CRM's list, from 1.")
    name = models.CharField(max_length=200)
    percent = models.DecimalField(max_digits=6, decimal_places=3)
    due_date = models.DateField(null=True, blank=True)
    completed_on = models.DateField(
        null=True, blank=True, help_text="Undated milestones bill once marked complete."
    )
    completed_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["agreement", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "position"], name="milestone_unique_position"
            ),
            models.CheckConstraint(
                name="milestone_percent_range", condition=Q(percent__gt=0) & Q(percent__lte=100)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agreement.external_id}: {self.name} {self.percent}%"
