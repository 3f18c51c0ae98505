"""API representations of payments, allocations, reminders and the AR aging report."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.api.fields import username_field, with_nested
from core.dates import DATE_BOUNDS
from receivables.models import (
    Allocation,
    Dispute,
    DisputeAttachment,
    DisputeMessage,
    Payment,
    Reminder,
)
from receivables.validation import currency_problem, future_date_problem


class AllocationSerializer(serializers.ModelSerializer):
    payment_id = serializers.CharField(source="payment.external_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True, allow_null=True)
    created_by = username_field("created_by")
    reversed_by = username_field("reversed_by")

    class Meta:
        model = Allocation
        fields = [
            "id",
            "payment_id",
            "invoice",
            "invoice_number",
            "amount",
            "date",
            "created_by",
            "created_at",
            "reversed_on",
            "reversed_by",
            "reversal_reason",
        ]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    payment_id = serializers.CharField(source="external_id", read_only=True)
    account_id = serializers.CharField(
        source="account.external_id",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="null while the payment is unassigned (SPEC 1.4).",
    )
    account_name = serializers.CharField(
        source="account.name", read_only=True, allow_null=True, default=None
    )
    assigned_by = username_field("assigned_by")
    applied = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text="Live allocations."
    )
    unapplied = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, help_text="Cash not yet applied."
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "payment_id",
            "date",
            "account_id",
            "account_name",
            "amount",
            "currency",
            "reference",
            "method",
            "source",
            "payer_name",
            "payer_iban",
            "assigned_by",
            "assigned_at",
            "applied",
            "unapplied",
            "created_at",
        ]
        read_only_fields = fields


PaymentDetailSerializer = with_nested(
    PaymentSerializer, allocations=AllocationSerializer(many=True, read_only=True)
)


class PaymentCreateSerializer(serializers.Serializer):
    """Record one payment by hand; it is allocated as an imported one would be (SPEC 4)."""

    payment_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="External key; generated (MAN-...) when omitted.",
    )
    account_id = serializers.CharField(max_length=64, help_text="Account ID; must exist.")
    date = serializers.DateField(validators=DATE_BOUNDS)
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999999.99"),
    )
    currency = serializers.CharField(
        max_length=3, required=False, default="USD", help_text="ISO 4217 code."
    )
    reference = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    method = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_date(self, value):  # type: ignore[no-untyped-def]
        if problem := future_date_problem(value):
            raise serializers.ValidationError(f"Date {problem}.")
        return value

    def validate_currency(self, value):  # type: ignore[no-untyped-def]
        value = value.strip().upper()
        if problem := currency_problem(value):
            raise serializers.ValidationError(f"Currency {problem}.")
        return value


class PaymentAssignSerializer(serializers.Serializer):
    account_id = serializers.CharField(max_length=64, help_text="Account ID; must exist.")


class AllocationCreateSerializer(serializers.Serializer):
    payment_id = serializers.CharField(max_length=64, help_text="Payment ID with unapplied cash.")
    invoice = serializers.IntegerField(min_value=1, help_text="Id of an approved invoice.")
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999999.99"),
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReminderSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True, allow_null=True)
    account_id = serializers.CharField(source="invoice.account.external_id", read_only=True)

    class Meta:
        model = Reminder
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "account_id",
            "level",
            "sent_on",
            "sent_to",
            "status",
            "note",
            "created_at",
        ]
        read_only_fields = fields


_AMOUNT = {"type": "string", "format": "decimal", "pattern": r"^-?\d+\.\d{2}$"}
_BUCKETS = {k: _AMOUNT for k in ["current", "1-30", "31-60", "61-90", "91+", "unapplied", "total"]}
AGING_JSON_SCHEMA = {
    "type": "object",
    "required": ["as_of", "rows", "totals"],
    "properties": {
        "as_of": {"type": "string", "format": "date"},
        "rows": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["account_id", "account_name", "currency", *_BUCKETS],
                "properties": {
                    "account_id": {"type": "string"},
                    "account_name": {"type": "string"},
                    "currency": {"type": "string"},
                    **_BUCKETS,
                },
            },
        },
        "totals": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["currency", *_BUCKETS],
                "properties": {"currency": {"type": "string"}, **_BUCKETS},
            },
        },
    },
}


class DisputeAttachmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = DisputeAttachment
        fields = ["id", "original_name", "content_type", "size", "sha256", "created_at"]
        read_only_fields = fields


class DisputeMessageSerializer(serializers.ModelSerializer):
    author = username_field("author")
    attachments = DisputeAttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = DisputeMessage
        fields = [
            "id",
            "body",
            "author",
            "author_customer",
            "internal",
            "created_at",
            "attachments",
        ]
        read_only_fields = fields


class DisputeSerializer(serializers.ModelSerializer):
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    account_id = serializers.CharField(source="invoice.account.external_id", read_only=True)
    lines = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    opened_by = username_field("opened_by")
    resolved_by = username_field("resolved_by")
    credit_proposed_by = username_field("credit_proposed_by")
    credit_note_number = serializers.CharField(
        source="credit_note.number", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Dispute
        fields = [
            "id",
            "invoice",
            "invoice_number",
            "account_id",
            "lines",
            "category",
            "status",
            "sla_days",
            "sla_due_at",
            "opened_at",
            "opened_by",
            "opened_by_customer",
            "credit_amount",
            "credit_reason",
            "credit_proposed_by",
            "credit_note",
            "credit_note_number",
            "credit_rebill",
            "rebill_invoice",
            "resolved_at",
            "resolved_by",
            "resolution_note",
        ]
        read_only_fields = fields


DisputeDetailSerializer = with_nested(
    DisputeSerializer, messages=DisputeMessageSerializer(many=True, read_only=True)
)


class DisputeCreateSerializer(serializers.Serializer):
    invoice = serializers.IntegerField(help_text="Invoice id (as in export_invoices).")
    category = serializers.CharField(help_text="A key of BILLING_DISPUTE_CATEGORIES.")
    message = serializers.CharField(max_length=5000)
    lines = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, help_text="Line ids."
    )


class DisputeCommentSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=5000)
    internal = serializers.BooleanField(required=False, default=False)


class DisputeCreditSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    reason = serializers.CharField(max_length=2000)
