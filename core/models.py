"""Site-wide records that belong to no billing app: the API's idempotency keys."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

IDEMPOTENCY_TTL = dt.timedelta(hours=24)


class IdempotencyKey(models.Model):
    """The first answer to a mutating API request sent with an `Idempotency-Key` header.

    The row is inserted (unique per user and key) BEFORE the request runs, so a concurrent second
    request with the same key is refused instead of running twice; the response is stored when the
    first request finishes. Server errors delete the row so that the client may retry. Rows older
    than IDEMPOTENCY_TTL are ignored and purged (core.api.idempotency_purge).
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
