"""Portal sign-in: token digests, the portal cookie, and the decorator every portal page uses.

The cookie (PORTAL_COOKIE_NAME) carries a random session token; the database keeps its SHA-256.
A request is a contact's when that digest names a session that has not ended or expired and
whose contact is not revoked: revocation and sign-out take effect on the next request. Staff
authentication (Django's session and tokens) never looks at this cookie, and this module never
looks at Django's: a contact is anonymous to every staff page and to the API.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from portal.models import Contact, PortalSession


def safe_next(value: str | None) -> str:
    """A `next` target kept through sign-in: only a path of the portal itself (`/portal/...`,
    no scheme, host, `//` or backslash), so a crafted link cannot send a contact elsewhere."""
    value = (value or "").strip()
    if (
        not value.startswith("/portal/")
        or "\\" in value
        or "//" in value
        or any(ord(c) < 33 for c in value)
        or not url_has_allowed_host_and_scheme(value, allowed_hosts=None)
    ):
        return ""
    return value


def new_token() -> tuple[str, str]:
    """(token for the user, its digest for the database)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_contact(request: HttpRequest) -> Contact | None:
    token = request.COOKIES.get(settings.PORTAL_COOKIE_NAME, "")
    if not token or len(token) > 100:
        return None
    session = (
        PortalSession.objects.select_related("contact", "contact__account")
        .filter(
            token_sha256=digest(token),
            ended_at__isnull=True,
            expires_at__gt=timezone.now(),
            contact__revoked_at__isnull=True,
        )
        .first()
    )
    if session is None:
        return None
    request.portal_session = session  # type: ignore[attr-defined]
    return session.contact


def set_cookie(response: HttpResponse, token: str) -> None:
    response.set_cookie(
        settings.PORTAL_COOKIE_NAME,
        token,
        max_age=settings.PORTAL_SESSION_HOURS * 3600,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
        path="/portal/",
    )


def clear_cookie(response: HttpResponse) -> None:
    response.delete_cookie(settings.PORTAL_COOKIE_NAME, path="/portal/", samesite="Lax")


def portal_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The portal page needs a signed-in contact (request.contact); else the sign-in page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        contact = session_contact(request)
        if contact is None:
            return redirect("portal:signin")
        request.contact = contact  # type: ignore[attr-defined]
        response = view(request, *args, **kwargs)
        # Portal pages show one customer's data: never cached by the browser or a proxy.
        response["Cache-Control"] = "no-store, private"
        return response

    wrapper.portal_page = True  # type: ignore[attr-defined]
    return wrapper
