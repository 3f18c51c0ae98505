"""API errors: every failure as JSON `{"detail": "...", "errors": {field: [...]}}`.

Never a traceback, never a 500 for bad input; a refused business action (BillingError)
answers 409; a body over its limit 413.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, IntegrityError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from core.api.idempotency import _Replay
from core.errors import BillingError
from core.roles import required_capability

logger = logging.getLogger(__name__)


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a sentence for a person, and per-field details when input was bad."""

    detail = serializers.CharField(help_text="What went wrong and what to do about it.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name -> problems with that field's value (bad input only).",
    )


def _flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure -> {"field": [...], "lines.0.amount": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten_errors(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in detail)
        else:
            for index, item in enumerate(detail):
                name = f"{prefix}.{index}" if prefix else str(index)
                for k, v in _flatten_errors(item, name).items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _validation_sentence(errors: dict[str, list[str]]) -> str:
    parts = []
    for field, messages in list(errors.items())[:5]:
        label = "" if field == "non_field_errors" else f"{field}: "
        parts.append(label + " ".join(messages))
    more = len(errors) - 5
    if more > 0:
        parts.append(f"and {more} more field(s)")
    return "Invalid input. " + "; ".join(parts) if parts else "Invalid input."


def error_response(
    message: str, code: int, errors: dict[str, list[str]] | None = None, headers: Any = None
) -> Response:
    body: dict[str, Any] = {"detail": message}
    if errors:
        body["errors"] = errors
    return Response(body, status=code, headers=headers)


def _translate(exc: Exception) -> Response | Exception:
    """Django's, the database's and the billing rules' own errors: their answer, or the DRF
    exception they stand for; any other exception comes back as it is."""
    if isinstance(exc, RequestDataTooBig):  # a body past DATA_UPLOAD_MAX_MEMORY_SIZE (issue 17)
        return error_response(
            f"The request body is too large: {exc} Send large imports as a CSV file.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        return exceptions.NotFound("Not found: no such record, or it is not visible to you.")
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, BillingError):
        return error_response(str(exc), status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        else:
            errors = {"non_field_errors": [str(m) for m in exc.messages]}
        return error_response(_validation_sentence(errors), 400, errors)
    if isinstance(exc, IntegrityError):
        logger.warning("API integrity error: %s", exc)
        return error_response(
            "The change conflicts with existing data (it may have been made already). "
            "Reload the record and try again.",
            status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        logger.warning("API data error: %s", exc)
        return error_response("A value is out of range or badly formed.", 400)
    return exc


def _permission_message(exc: exceptions.PermissionDenied, context: dict[str, Any]) -> str:
    """A signed-in user refused by their role is told which capability the action needs."""
    view = context.get("view")
    request = context.get("request")
    capability = (
        view is not None and request is not None and required_capability(view, request.method)
    )
    if capability and request is not None and request.user.is_authenticated:
        return f"Your role may not do this (it needs the '{capability}' capability)."
    return str(exc.detail)


def _api_exception_response(exc: exceptions.APIException, context: dict[str, Any]) -> Response:
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait)))
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten_errors(exc.detail)
        return error_response(_validation_sentence(errors), exc.status_code, errors, headers)
    if isinstance(exc, exceptions.PermissionDenied):
        return error_response(_permission_message(exc, context), exc.status_code, headers=headers)
    detail = exc.detail
    if isinstance(detail, dict | list):
        errors = _flatten_errors(detail)
        return error_response(_validation_sentence(errors), exc.status_code, errors, headers)
    return error_response(str(detail), exc.status_code, headers=headers)


def _unexpected_response(exc: Exception) -> Response:
    if isinstance(exc, DatabaseError):
        logger.exception("API database error")
        return error_response(
            "The database could not complete the request; try again.",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    logger.exception("Unhandled API error", exc_info=exc)
    return error_response(
        "Something went wrong on our side; it has been logged. Try again or contact support.",
        status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every failure becomes JSON `{"detail", "errors"}`."""
    if isinstance(exc, _Replay):
        return exc.response()
    translated = _translate(exc)
    if isinstance(translated, Response):
        return translated
    if isinstance(translated, exceptions.APIException):
        return _api_exception_response(translated, context)
    return _unexpected_response(translated)
