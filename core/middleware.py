"""Site-wide request limits and security headers (issue 17).

- `BodyLimitMiddleware` refuses a body larger than its limit from its Content-Length, before
  anything reads it: 413, JSON under /api/, a short page elsewhere. The limit is
  BILLING_IMPORT_MAX_BYTES on import endpoints (CSV and multipart uploads, which stream to disk),
  BILLING_JSON_MAX_BYTES for a JSON body on them, and DATA_UPLOAD_MAX_MEMORY_SIZE anywhere else.
  Django reads at most Content-Length bytes of a body, so a body without one is read as empty.
- `SecurityHeadersMiddleware` adds the Content-Security-Policy (with a per-response nonce for
  inline scripts) and `Cache-Control: no-store` on private answers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.csvio import size_text

ENVELOPE_BYTES = 64 * 1024


def _is_import(path: str) -> bool:
    return path.rstrip("/").endswith("/import") or "/imports/" in path or path.endswith("/upload/")


def body_limit(request: HttpRequest) -> int:
    if _is_import(request.path):
        if (request.content_type or "").endswith("json"):
            return int(settings.BILLING_JSON_MAX_BYTES)
        # The multipart envelope around the file: an upload just past the limit reaches the
        # page, which says how large the file itself is.
        return int(settings.BILLING_IMPORT_MAX_BYTES) + ENVELOPE_BYTES
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0) or 2_621_440


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return self._refuse(request, "The Content-Length header is not a number.", 400)
        if length < 0:
            return self._refuse(request, "The Content-Length header is negative.", 400)
        limit = body_limit(request)
        if length > limit:
            return self._refuse(
                request,
                f"The request body is {size_text(length)}; the limit here is {size_text(limit)}.",
                413,
            )
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message}, status=status)
        else:
            response = HttpResponse(message, status=status, content_type="text/plain")
        # The body was not read: the connection cannot be reused for another request.
        response["Connection"] = "close"
        return response


# --------------------------------------------------------------------------------------------
# Security headers (issue 17 item 15)

CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self' 'nonce-{nonce}'",
    "style-src 'self' 'nonce-{nonce}'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors {frame_ancestors}",
)


def csp_nonce(request: HttpRequest) -> str:
    """The nonce of this response's Content-Security-Policy: `<script nonce="{{ csp_nonce }}">`."""
    nonce = getattr(request, "_csp_nonce", None)
    if nonce is None:
        import secrets

        nonce = secrets.token_urlsafe(16)
        request._csp_nonce = nonce  # type: ignore[attr-defined]
    return str(nonce)


def csp_context(request: HttpRequest) -> dict[str, object]:
    """Template context processor: `csp_nonce` (created only when a template asks for it)."""
    from django.utils.functional import SimpleLazyObject

    return {"csp_nonce": SimpleLazyObject(lambda: csp_nonce(request))}


def _private(request: HttpRequest, response: HttpResponse) -> bool:
    """A page for a logged-in user, an authenticated API answer, or a download."""
    user = getattr(request, "user", None)
    return bool(
        (user is not None and user.is_authenticated)
        or request.META.get("HTTP_AUTHORIZATION")
        or response.has_header("Content-Disposition")
        or getattr(request, "contact", None) is not None  # a portal page (portal.auth)
    )


class SecurityHeadersMiddleware:
    """Content-Security-Policy on every answer (scripts and styles from this site, or inline
    with the response's nonce; no inline event handlers), and `Cache-Control: no-store` on
    logged-in pages, authenticated API answers and downloads, so neither a shared proxy nor the
    browser's history keeps them. A view may loosen its own policy through
    `response.csp_extra = {"style-src": "'self' 'unsafe-inline'"}` (replaces that directive)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Content-Security-Policy"):
            response["Content-Security-Policy"] = self.policy(request, response)
        if _private(request, response):
            current = response.get("Cache-Control", "")
            if "no-store" not in current:
                response["Cache-Control"] = "private, no-store"
        return response

    @staticmethod
    def policy(request: HttpRequest, response: HttpResponse) -> str:
        framed = response.get("X-Frame-Options", "").upper() == "SAMEORIGIN"
        nonce = csp_nonce(request)
        extra: dict[str, str] = getattr(response, "csp_extra", {}) or {}
        parts = []
        for directive in CSP_DIRECTIVES:
            text = directive.format(nonce=nonce, frame_ancestors="'self'" if framed else "'none'")
            name = text.split(" ", 1)[0]
            if name in extra:
                text = f"{name} {extra[name]}"
            parts.append(text)
        return "; ".join(parts)
