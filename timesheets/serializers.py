"""API representations of employees, time entries, flags and reconciliation runs."""

from __future__ import annotations

from rest_framework import serializers

from core.api.fields import username_field
from core.dates import DATE_BOUNDS
from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry


class EmployeeSerializer(serializers.ModelSerializer):
    employee_id = serializers.CharField(source="external_id", read_only=True)

    class Meta:
        model = Employee
        fields = ["id", "employee_id", "name"]
        read_only_fields = fields


class TimeEntrySerializer(serializers.ModelSerializer):
    entry_id = serializers.CharField(source="external_id", read_only=True)
    employee_id = serializers.CharField(source="employee.external_id", read_only=True)
    employee_name = serializers.CharField(source="employee.name", read_only=True)
    hours = serializers.DecimalField(
        max_digits=10, decimal_places=4, read_only=True, help_text="Raw hours worked, as exported."
    )

    class Meta:
        model = TimeEntry
        fields = [
            "id",
            "entry_id",
            "date",
            "employee_id",
            "employee_name",
            "role",
            "project_code",
            "task",
            "hours",
            "duration_ms",
            "billable",
            "approved",
            "notes",
            "locked",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FlagSerializer(serializers.ModelSerializer):
    entry_id = serializers.CharField(
        source="entry.external_id", read_only=True, allow_null=True, default=None
    )
    agreement_id = serializers.CharField(
        source="agreement.external_id", read_only=True, allow_null=True, default=None
    )
    employee_id = serializers.CharField(
        source="employee.external_id", read_only=True, allow_null=True, default=None
    )
    actioned_by = username_field("actioned_by")
    blocks_billing = serializers.BooleanField(read_only=True)

    class Meta:
        model = Flag
        fields = [
            "id",
            "code",
            "status",
            "subject",
            "entry_id",
            "agreement_id",
            "employee_id",
            "day",
            "project_code",
            "hours",
            "detail",
            "blocks_billing",
            "raised_at",
            "last_seen_as_of",
            "resolved_at",
            "actioned_by",
            "actioned_at",
            "reason",
        ]
        read_only_fields = fields


class FlagActionSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000, help_text="Why (customer authorization, not a duplicate, ...). Required."
    )


class ReconciliationRunSerializer(serializers.ModelSerializer):
    started_by = username_field("started_by")

    class Meta:
        model = ReconciliationRun
        fields = [
            "id",
            "as_of",
            "status",
            "step",
            "steps_done",
            "steps_total",
            "opened",
            "resolved",
            "open_total",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class ReconciliationStartSerializer(serializers.Serializer):
    as_of = serializers.DateField(
        validators=DATE_BOUNDS,
        required=False,
        allow_null=True,
        help_text="Default: today in the firm's time zone.",
    )
