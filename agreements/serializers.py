"""API representations of accounts and agreements; external keys (Account ID, Agreement ID) first."""

from __future__ import annotations

from rest_framework import serializers

from agreements.models import AGREEMENT_TERMS, Account, Agreement, Milestone, RoleRate


class AccountSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="external_id", read_only=True)

    class Meta:
        model = Account
        fields = [
            "id",
            "account_id",
            "name",
            "billing_email",
            "billing_address",
            "billing_city",
            "billing_postal_code",
            "billing_country",
            "buyer_vat_id",
            "buyer_reference",
            "einvoice_ubl_by_email",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class RoleRateSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoleRate
        fields = ["role", "rate"]
        read_only_fields = fields


class MilestoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Milestone
        fields = ["position", "name", "percent", "due_date", "completed_on"]
        read_only_fields = fields


class AgreementSerializer(serializers.ModelSerializer):
    agreement_id = serializers.CharField(source="external_id", read_only=True)
    parent_agreement_id = serializers.CharField(
        source="parent.external_id", read_only=True, allow_null=True, default=None
    )
    account_id = serializers.CharField(source="account.external_id", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    name = serializers.CharField(
        read_only=True, help_text="Agreement Name: what invoice lines call it (blank = code)."
    )
    tax_category = serializers.CharField(source="vat_category", read_only=True)
    role_rates = RoleRateSerializer(many=True, read_only=True)
    milestones = MilestoneSerializer(many=True, read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "agreement_id",
            "parent_agreement_id",
            "account_id",
            "account_name",
            *AGREEMENT_TERMS,
            "role_rates",
            "milestones",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
