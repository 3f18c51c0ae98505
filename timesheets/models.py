"""Hours worked (SPEC 1.2) and the reconciliation flags raised on them (SPEC 2)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Case, Q, When
from django.db.models.functions import Cast
from simple_history.models import HistoricalRecords

from agreements.models import Agreement
from core.runs import RunBase
from timesheets.ordering import ENTRY_NUMBER_SQL

MS_PER_HOUR = 3_600_000


class Employee(models.Model):
    external_id = models.CharField("Employee ID", max_length=64, unique=True)
    name = models.CharField(max_length=255, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "external_id"]

    def __str__(self) -> str:
        return self.name or self.external_id


class TimeEntry(models.Model):
    external_id = models.CharField("Entry ID", max_length=64, unique=True)
    # Whole-number Entry IDs also stored as numbers: "smaller Entry ID" compares as numbers when
    # both are whole numbers (SPEC 5). Null when the ID is not a whole number.
    external_number = models.DecimalField(max_digits=30, decimal_places=0, null=True, blank=True)
    date = models.DateField(db_index=True)
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="entries")
    role = models.CharField(max_length=100, blank=True)
    project_code = models.CharField(max_length=64, db_index=True)
    task = models.CharField(max_length=255, blank=True)
    # Raw duration kept exactly: decimal hours (up to 4 places) and H:MM:SS both map to whole ms.
    duration_ms = models.PositiveIntegerField(help_text="Milliseconds worked, as exported.")
    billable = models.BooleanField()
    approved = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    # Set by invoicing when the entry's invoice is approved: imports never change a locked entry
    # (they raise CHANGED_AFTER_INVOICING instead).
    locked = models.BooleanField(default=False)
    source = models.CharField(
        max_length=32, default="billable", help_text="The export it came from (SPEC 1.4)."
    )
    # The import that created or last changed it (undo, import history). No index: only undo
    # looks rows up by it, and every index costs the million-row import time.
    import_record = models.ForeignKey(
        "core.ImportRecord",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date", "external_id"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(
                name="entry_duration_range",
                condition=Q(duration_ms__gt=0) & Q(duration_ms__lte=24 * MS_PER_HOUR),
            ),
        ]
        indexes = [
            models.Index(fields=["project_code", "date"], name="entry_project_date"),
            models.Index(fields=["employee", "date"], name="entry_employee_date"),
            # The time-entry browser pages by (date, id), newest first (records/entries.py).
            models.Index(fields=["date", "id"], name="entry_date_id"),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {self.date} {self.project_code}"

    @property
    def hours(self) -> Decimal:
        return Decimal(self.duration_ms) / MS_PER_HOUR


class Flag(models.Model):
    """A reconciliation exception. Unique per (code, subject); see timesheets/reconciliation.py."""

    class Code(models.TextChoices):
        NO_AGREEMENT = "NO_AGREEMENT"
        AGREEMENT_NOT_SIGNED = "AGREEMENT_NOT_SIGNED"
        OUTSIDE_AGREEMENT_DATES = "OUTSIDE_AGREEMENT_DATES"
        MISSING_RATE = "MISSING_RATE"
        OVER_CAP = "OVER_CAP"
        DUPLICATE_ENTRY = "DUPLICATE_ENTRY"
        UNAPPROVED_TIME = "UNAPPROVED_TIME"
        CHANGED_AFTER_INVOICING = "CHANGED_AFTER_INVOICING"
        EXCESSIVE_DAILY_HOURS = "EXCESSIVE_DAILY_HOURS"
        NOT_STARTED = "NOT_STARTED"
        UNDELIVERED_AT_END = "UNDELIVERED_AT_END"

    # Codes whose open or written-off flag keeps an entry off invoices (SPEC 2).
    BLOCKING_CODES = frozenset(
        {
            "NO_AGREEMENT",
            "AGREEMENT_NOT_SIGNED",
            "OUTSIDE_AGREEMENT_DATES",
            "MISSING_RATE",
            "OVER_CAP",
            "DUPLICATE_ENTRY",
        }
    )
    # The statuses of a blocking code's flag that keep its entry off invoices (a released or
    # resolved one does not).
    BLOCKING_STATUSES = frozenset({"open", "written_off"})
    RELEASABLE_CODES = frozenset({"OVER_CAP", "DUPLICATE_ENTRY"})
    ENTRY_CODES = frozenset(
        {
            "NO_AGREEMENT",
            "AGREEMENT_NOT_SIGNED",
            "OUTSIDE_AGREEMENT_DATES",
            "MISSING_RATE",
            "OVER_CAP",
            "DUPLICATE_ENTRY",
            "UNAPPROVED_TIME",
            "CHANGED_AFTER_INVOICING",
        }
    )

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"
        RELEASED = "released"
        WRITTEN_OFF = "written_off"

    code = models.CharField(max_length=32, choices=Code.choices)
    # Entry ID, Agreement ID, or EMPLOYEE_ID@YYYY-MM-DD (as export_flags writes it).
    subject = models.CharField(max_length=160)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    entry = models.ForeignKey(
        TimeEntry, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    employee = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.CASCADE, related_name="flags"
    )
    day = models.DateField(null=True, blank=True, help_text="EXCESSIVE_DAILY_HOURS: the day.")
    project_code = models.CharField(max_length=64, blank=True)
    hours = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    detail = models.TextField(help_text="Why it was raised, in words.")
    raised_at = models.DateTimeField(auto_now_add=True)
    last_seen_as_of = models.DateField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    actioned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actioned_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Release or write-off reason.")
    # The entry flag's Entry ID as a number (= its entry's external_number, SPEC 5 order): the
    # dashboard sorts by it, so one index on flag columns serves the page (no join to 800k
    # entries to sort 36,000 open flags). Computed by PostgreSQL, so raw-SQL writers need not.
    subject_number = models.GeneratedField(
        expression=Case(
            When(
                Q(entry__isnull=False) & Q(subject__regex=ENTRY_NUMBER_SQL.strip("'")),
                then=Cast("subject", models.DecimalField(max_digits=30, decimal_places=0)),
            ),
            default=None,
        ),
        output_field=models.DecimalField(max_digits=30, decimal_places=0, null=True),
        db_persist=True,
    )
    history = HistoricalRecords(excluded_fields=["subject_number"])

    class Meta:
        ordering = ["code", "subject"]
        constraints = [
            models.UniqueConstraint(fields=["code", "subject"], name="flag_unique_code_subject"),
            models.CheckConstraint(
                name="flag_action_has_reason",
                condition=~Q(status__in=["released", "written_off"]) | ~Q(reason=""),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "code"], name="flag_status_code"),
            # The dashboard's default page: open flags by code, then Entry ID (SPEC 5), subject.
            models.Index(
                fields=["status", "code", "subject_number", "subject", "id"],
                name="flag_status_code_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.subject} ({self.status})"

    @property
    def blocks_billing(self) -> bool:
        return self.code in self.BLOCKING_CODES and self.status in self.BLOCKING_STATUSES


class FlagTally(models.Model):
    """Flags per (status, code), kept current by PostgreSQL triggers on timesheets_flag (every
    INSERT, UPDATE, DELETE and TRUNCATE, cascades and raw SQL included; migration 0005): the
    dashboard reads its counts instead of counting 36,000 open flags on every view.

    Append-only deltas: each statement that changes flags adds one row per (status, code) it
    changed, +n/-n flags and hours, so concurrent writers never wait on a shared counter row.
    The figure is the SUM over rows; `tally_compact()` folds the rows into one per (status,
    code) in one statement (after every reconciliation and bulk action)."""

    status = models.CharField(max_length=16)
    code = models.CharField(max_length=32)
    flags = models.BigIntegerField()
    hours = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        indexes = [models.Index(fields=["status", "code"], name="flagtally_status_code")]

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.flags:+d}"


class ReconciliationRun(RunBase):
    """One reconciliation, with progress the dashboard polls (lifecycle: core/runs.py)."""

    as_of = models.DateField()
    step = models.CharField(max_length=100, blank=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    steps_total = models.PositiveSmallIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    open_total = models.PositiveIntegerField(default=0)

    class Meta(RunBase.Meta):
        pass

    def __str__(self) -> str:
        return f"Reconciliation as of {self.as_of} ({self.status})"


class UnbilledValueSnapshot(models.Model):
    """The KPI tile's unbilled value for the period ending `last_day`, stored so the dashboard
    reads it instead of pricing every unbilled group on every view (issue 16): computed in the
    background by `services.unbilled_snapshot_refresh` with invoicing's one pricing
    (`unbilled_time_value` through core.entry_billing, issue 13), refreshed after what changes it.

    Derived data, recomputed from the entries at will: no history. `amounts` is currency ->
    amount as a string ("1850.00"); `as_of` is when the computation began (the data it shows;
    None: not computed yet); `requested_at` the last refresh asked for from the page."""

    last_day = models.DateField(unique=True)
    amounts = models.JSONField(default=dict)
    as_of = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Unbilled value to {self.last_day} as of {self.as_of}"

    @property
    def totals(self) -> dict[str, Decimal]:
        return {currency: Decimal(amount) for currency, amount in sorted(self.amounts.items())}
