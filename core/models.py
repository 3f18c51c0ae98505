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
