"""Site-wide request limits (issue 17).

- `BodyLimitMiddleware` refuses a body larger than its limit from its Content-Length, before
  anything reads it: 413, JSON under /api/, a short page elsewhere. The limit is
  BILLING_IMPORT_MAX_BYTES on import endpoints (CSV and multipart uploads, which stream to disk),
  BILLING_JSON_MAX_BYTES for a JSON body on them, and DATA_UPLOAD_MAX_MEMORY_SIZE anywhere else.
  Django reads at most Content-Length bytes of a body, so a body without one is read as empty.
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
