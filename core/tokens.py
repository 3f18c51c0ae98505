"""API tokens (issue 17 item 14): random, stored only as a SHA-256, shown once, expiring.

A token is `bl_` + 40 random URL-safe characters; the database keeps its SHA-256 and its first
11 characters (the prefix shown on the tokens page). Tokens expire BILLABLE_API_TOKEN_TTL_DAYS
after creation. A password change ends every token of the user (and Django ends every other
session of the user: the session carries a hash of the password).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from core.models import ApiToken

TOKEN_PREFIX = "bl_"
PREFIX_LENGTH = 11
LAST_USED_PRECISION = dt.timedelta(minutes=1)


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_create(*, user: Any, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: (the stored record, the token itself, to show once)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(30)
    now = timezone.now()
    record = ApiToken.objects.create(
        user=user,
        name=name.strip()[:100],
        prefix=raw[:PREFIX_LENGTH],
        digest=token_digest(raw),
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.BILLABLE_API_TOKEN_TTL_DAYS),
    )
    return record, raw


def token_revoke(*, user: Any, pk: int) -> bool:
    deleted, _ = ApiToken.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)


class HashedTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <token>`, looked up by its SHA-256; refused once expired, and (403)
    for a superuser who must enrol a second factor first (core.two_factor.must_enrol)."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: send `Authorization: Token <token>`."
            )
        try:
            raw = auth[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        record = ApiToken.objects.select_related("user").filter(digest=token_digest(raw)).first()
        if record is None or not record.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if record.expires_at <= now:
            raise exceptions.AuthenticationFailed(
                "This token has expired. Create a new one on your API tokens page."
            )
        from core.two_factor import ENROL_FIRST, must_enrol  # not at import: DRF loads this early

        if must_enrol(record.user):
            raise exceptions.PermissionDenied(ENROL_FIRST)
        if record.last_used_at is None or now - record.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
        return record.user, record

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


@receiver(pre_save, sender=get_user_model(), dispatch_uid="billable-tokens-end-on-password")
def _end_tokens_on_password_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A password set with set_password() (the password page, the admin, `changepassword`)
    ends the user's tokens. Django's own re-hash on log-in (a stronger hasher) clears
    `_password` before saving, as it does for its password_changed hook: tokens are kept."""
    if instance.pk is None or kwargs.get("raw") or getattr(instance, "_password", None) is None:
        return
    ApiToken.objects.filter(user_id=instance.pk).delete()
