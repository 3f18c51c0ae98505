"""API representations of invoice runs, invoices with their lines, and credit notes."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.api.fields import username_field
from core.dates import DATE_BOUNDS, parse_period
from invoicing.models import INVOICE_SUMMARY, CreditNote, Invoice, InvoiceLine, InvoiceRun


class PeriodField(serializers.Field):
    """A calendar month as `YYYY-MM` (stored as its first day)."""

    default_error_messages = {"invalid": "Must be a month as YYYY-MM, e.g. 2026-01."}

    def to_representation(self, value):  # type: ignore[no-untyped-def]
        return f"{value:%Y-%m}"

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            period = parse_period(data.strip())
        except ValueError:
            self.fail("invalid")
        if period.year < 1900 or period.year > 2999:
            self.fail("invalid")
        return period


# drf-spectacular: document PeriodField as a string with a pattern.
from drf_spectacular.extensions import OpenApiSerializerFieldExtension  # noqa: E402


class _PeriodFieldSchema(OpenApiSerializerFieldExtension):
    target_class = PeriodField

    def map_serializer_field(self, auto_schema, direction):  # type: ignore[no-untyped-def]
        return {"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-01"}


class InvoiceRunSerializer(serializers.ModelSerializer):
    period = PeriodField(read_only=True)
    started_by = username_field("started_by")
    progress_percent = serializers.SerializerMethodField(help_text="0-100, from groups done.")

    class Meta:
        model = InvoiceRun
        fields = [
            "id",
            "period",
            "status",
            "groups_total",
            "groups_done",
            "progress_percent",
            "invoices_created",
            "invoices_updated",
            "lines_written",
            "entries_billed",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_progress_percent(self, run: InvoiceRun) -> int:
        if run.status == InvoiceRun.Status.DONE:
            return 100
        if not run.groups_total:
            return 0
        return min(100, run.groups_done * 100 // run.groups_total)


class InvoiceRunStartSerializer(serializers.Serializer):
    period = PeriodField(help_text="The month to bill, YYYY-MM.")


class InvoiceLineSerializer(serializers.ModelSerializer):
    agreement_id = serializers.CharField(
        source="agreement.external_id", read_only=True, allow_null=True, default=None
    )
    adjusted_by = username_field("adjusted_by")
    tax_category = serializers.CharField(source="vat_category", read_only=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "position",
            "kind",
            "agreement_id",
            "description",
            "role",
            "minutes",
            "hours",
            "rate",
            "amount",
            "priced_amount",
            "tax_rate",
            "tax_category",
            "tax_exemption_reason",
            "service_start",
            "service_end",
            "adjustment_reason",
            "adjusted_by",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    number = serializers.CharField(read_only=True, allow_null=True, help_text="Null for drafts.")
    account_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    period = PeriodField(read_only=True)
    open_amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        help_text="Total less live allocations and credit notes (0 for rejected invoices).",
    )
    pdf_status = serializers.ChoiceField(
        choices=["preview", "rendering", "ready"],
        read_only=True,
        help_text="`rendering` from approval until the final PDF is stored (it cannot be sent "
        "before), then `ready`; `preview` for drafts.",
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            *INVOICE_SUMMARY,
            "disputed",
            "billing_email",
            "run",
            "approved_at",
            "rejected_at",
            "rejection_reason",
            "sent_at",
            "version",
            "pdf_status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class InvoiceDetailSerializer(InvoiceSerializer):
    lines = InvoiceLineSerializer(many=True, read_only=True)
    entry_ids = serializers.SerializerMethodField(help_text="Entry IDs billed on this invoice.")
    adjusted_by = username_field("adjusted_by")
    approved_by = username_field("approved_by")
    dispute_reason = serializers.CharField(read_only=True)

    class Meta(InvoiceSerializer.Meta):
        fields = [
            *InvoiceSerializer.Meta.fields,
            "adjusted_by",
            "approved_by",
            "dispute_reason",
            "notes",
            "terms",
            "lines",
            "entry_ids",
        ]
        read_only_fields = fields

    def get_entry_ids(self, invoice: Invoice) -> list[str]:
        return sorted(
            (billing.entry.external_id for billing in invoice.entry_billings.all()),
            key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else 0, v),
        )


class InvoiceApproveSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1,
        max_value=2_000_000_000,
        help_text="The draft's `version` as you reviewed it; a draft changed since is refused "
        "(409) so that nobody approves figures they did not see.",
    )


class InvoiceRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the draft is rejected.")


class InvoiceAdjustSerializer(serializers.Serializer):
    """Change one line of a draft (give `line`), or add a line (omit `line`)."""

    line = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="Id of the line to change; omit to add a new line.",
    )
    reason = serializers.CharField(max_length=2000, help_text="Why; shown in the history.")
    description = serializers.CharField(max_length=500, required=False)
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        min_value=Decimal("-999999999999.99"),
        max_value=Decimal("999999999999.99"),
    )
    tax_rate = serializers.DecimalField(
        max_digits=6,
        decimal_places=3,
        required=False,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        help_text="Percent; new lines only (default: the invoice's tax rate).",
    )

    def validate(self, attrs):  # type: ignore[no-untyped-def]
        if attrs.get("line") is None:
            missing = [f for f in ("description", "amount") if f not in attrs]
            if missing:
                raise serializers.ValidationError(
                    {f: ["Required when adding a line (no `line` given)."] for f in missing}
                )
        elif "description" not in attrs and "amount" not in attrs:
            raise serializers.ValidationError(
                {"amount": ["Give a new amount and/or description for the line."]}
            )
        return attrs


class CreditNoteSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    account_id = serializers.CharField(source="invoice.account.external_id", read_only=True)
    created_by = username_field("created_by")

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "invoice_number",
            "account_id",
            "date",
            "amount",
            "currency",
            "reason",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class CreditNoteCreateSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(min_value=1, help_text="Id of an approved invoice.")
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999999.99"),
    )
    reason = serializers.CharField(max_length=2000)
    date = serializers.DateField(
        validators=DATE_BOUNDS, required=False, allow_null=True, help_text="Default: today."
    )
