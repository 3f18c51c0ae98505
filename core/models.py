"""Site-wide records that belong to no billing app: the API's idempotency keys."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

IDEMPOTENCY_TTL = dt.timedelta(hours=24)
# How long a key stays claimed by a request that has not answered yet; renewed while it runs, so
# only a request whose worker died lets it lapse (then the next request with the key runs).
IDEMPOTENCY_LEASE = dt.timedelta(seconds=60)


class IdempotencyKey(models.Model):
    """The first answer to a mutating API request sent with an `Idempotency-Key` header.

    The row is inserted (unique per user and key) BEFORE the request runs, so a concurrent second
    request with the same key is refused instead of running twice; the response is stored when the
    first request finishes. Server errors delete the row so that the client may retry. Rows older
    than IDEMPOTENCY_TTL are ignored and purged (core.api.idempotency_purge).

    A row without an answer is held by its request until `lease_until` (IDEMPOTENCY_LEASE, renewed
    while the request runs): a request whose worker was killed leaves a row whose lease lapses,
    and the next request with the key takes it over instead of answering 409 for 24 hours.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    request_hash = models.CharField(
        max_length=64, help_text="SHA-256 of method, path, query and body."
    )
    # Null while the first request is still running.
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The JSON body returned the first time.")
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="While no answer is stored: held by its request until."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class ImportRecord(models.Model):
    """One import that wrote something (SPEC 1.4; the import history page): who, when, which file
    (name, SHA-256, size), the source and options it was read with, and its counts.

    The rows an import created or last changed point back at it (``import_record`` on time
    entries, agreements and payments), which is what undo uses: an import can be undone while it
    is the latest of its kind and none of its rows has been billed or allocated since.
    """

    class Kind(models.TextChoices):
        AGREEMENTS = "agreements", "Agreements"
        TIME_ENTRIES = "time_entries", "Time entries"
        PAYMENTS = "payments", "Payments"

    class Status(models.TextChoices):
        DONE = "done", "Imported"
        UNDONE = "undone", "Undone"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=32, help_text="The source the file was read as.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the file's bytes.")
    size = models.BigIntegerField(default=0, help_text="Bytes.")
    encoding = models.CharField(max_length=32, blank=True)
    options = models.JSONField(
        default=dict, blank=True, help_text="Options the file was read with."
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0, help_text="Rows removed (--replace-period).")
    notices = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DONE)
    created_at = models.DateTimeField(db_index=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="import_record_kind_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.pk} ({self.file_name})"


class ImportJob(models.Model):
    """A large upload checked or imported in the background (the upload pages, SPEC 1.4): the
    file waiting for the worker, the progress the page's bar shows, and the outcome. The import
    itself stays all or nothing: a rejected file writes no business row; the job keeps its
    problems. A dry run (``dry_run``) writes nothing at all and keeps the preview rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Imported"
        REJECTED = "rejected", "Rejected (nothing written)"
        FAILED = "failed", "Failed (nothing written)"

    kind = models.CharField(max_length=16, choices=ImportRecord.Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=500, help_text="The uploaded file, until the job ends.")
    runner = models.CharField(max_length=200, help_text="Dotted path of the import function.")
    choices = models.JSONField(default=dict, blank=True, help_text="The upload's reading options.")
    dry_run = models.BooleanField(
        default=False,
        help_text="A check of the file (the upload page's preview): writes nothing and keeps the "
        "file for the import that may follow.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=16, blank=True, help_text="reading, writing")
    rows_total = models.PositiveIntegerField(default=0, help_text="Estimated from the file.")
    rows_done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    import_record = models.ForeignKey(
        ImportRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import job {self.pk} ({self.file_name})"


class MailTemplate(models.Model):
    """The subject and body of one kind of outgoing mail (and, for reminders, one level), as a
    billing admin edited or approved them. Without a row the built-in text in core/mail.py is
    shown and used on a preview page, but nothing goes out on its own (a batch, the API, the
    portal's sign-in mail) until a billing admin approves it: approving a built-in text stores a
    copy of it here, so the text that was approved is the text that is sent."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"
        STATEMENT = "statement", "Statement"
        REMINDER = "reminder", "Reminder"
        PORTAL_INVITE = "portal_invite", "Portal invitation"
        PORTAL_SIGNIN = "portal_signin", "Portal sign-in link"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    level = models.PositiveSmallIntegerField(
        default=0, help_text="Reminders: days past due of the level; 0 for other kinds."
    )
    subject = models.CharField(max_length=300)
    body = models.TextField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(
        null=True, blank=True, help_text="When a billing admin approved this text; null: not yet."
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "level"], name="mail_template_unique_kind_level"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.level}" if self.level else self.get_kind_display()

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class SentMail(models.Model):
    """Every message that left: who sent it, when, to whom, its subject and the SHA-256 of each
    attachment. `object_id` is the invoice, credit note or account the message is about."""

    kind = models.CharField(max_length=16, choices=MailTemplate.Kind.choices)
    level = models.PositiveSmallIntegerField(default=0)
    object_id = models.PositiveBigIntegerField()
    account_id = models.PositiveBigIntegerField(db_index=True, help_text="The customer's account.")
    invoice_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    attachments = models.JSONField(default=list, help_text='[{"name": ..., "sha256": ...}]')
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} to {', '.join(self.to)} at {self.sent_at:%Y-%m-%d %H:%M}"


class SavedMapping(models.Model):
    """A mapping file (SPEC 1.4) saved from the upload page's mapping form, offered by name."""

    kind = models.CharField(max_length=16, help_text="agreements, time_entries or payments")
    name = models.CharField(max_length=100)
    data = models.JSONField(help_text="The mapping file's JSON.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="saved_mapping_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class ApiToken(models.Model):
    """An API token (issue 17 item 14): only its SHA-256 is stored, with a short prefix to tell
    tokens apart on the tokens page. Shown once when created (core.tokens.token_create)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)  # sha256 hex of the whole token
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"
