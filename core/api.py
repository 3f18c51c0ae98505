"""Shared REST machinery: JSON errors, pagination, Idempotency-Key, schema conventions, token login.

Every API view of the apps derives from `BillableAPIView`, `BillableViewSet` or
`BillableReadOnlyViewSet` below, so that each one gets, without repeating it:
- capability checks (core.roles.HasCapability; the view declares what it needs),
- errors as `{"detail": "...", "errors": {field: [...]}}` (never a traceback, never a 500 for
  bad input; a refused business action, BillingError, answers 409),
- `Idempotency-Key` support on POST/PUT/PATCH/DELETE (same key + same request replays the first
  answer; same key + a different request is refused with 422; still running: 409),
- page-number pagination with `page_size` (max 500), django-filter filtering and ordering.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import File
from django.db import DatabaseError, DataError, IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, generics, mixins, serializers, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from core import login
from core.errors import BillingError
from core.models import IDEMPOTENCY_TTL, IdempotencyKey
from core.parsers import BoundedJSONParser
from core.roles import HasCapability, required_capability

logger = logging.getLogger(__name__)

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[!-~]([ -~]*[!-~])?$",
}


# --------------------------------------------------------------------------------------------
# Errors


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a sentence for a person, and per-field details when input was bad."""

    detail = serializers.CharField(help_text="What went wrong and what to do about it.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field name -> problems with that field's value (bad input only).",
    )


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    default_code = "idempotency_in_progress"


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Send a new key for a new request."
    )
    default_code = "idempotency_key_reused"


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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every failure becomes JSON `{"detail", "errors"}`."""
    if isinstance(exc, _Replay):
        return exc.response()
    if isinstance(exc, RequestDataTooBig):  # a body past DATA_UPLOAD_MAX_MEMORY_SIZE (issue 17)
        return error_response(
            f"The request body is too large: {exc} Send large imports as a CSV file.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found: no such record, or it is not visible to you.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, BillingError):
        return error_response(str(exc), status.HTTP_409_CONFLICT)
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
        else:
            errors = {"non_field_errors": [str(m) for m in exc.messages]}
        return error_response(_validation_sentence(errors), 400, errors)
    elif isinstance(exc, IntegrityError):
        logger.warning("API integrity error: %s", exc)
        return error_response(
            "The change conflicts with existing data (it may have been made already). "
            "Reload the record and try again.",
            status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, DataError):
        logger.warning("API data error: %s", exc)
        return error_response("A value is out of range or badly formed.", 400)

    if isinstance(exc, exceptions.APIException):
        headers: dict[str, str] = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, exceptions.ValidationError):
            errors = _flatten_errors(exc.detail)
            return error_response(_validation_sentence(errors), exc.status_code, errors, headers)
        if isinstance(exc, exceptions.PermissionDenied):
            view = context.get("view")
            request = context.get("request")
            capability = (
                view is not None
                and request is not None
                and required_capability(view, request.method)
            )
            message = str(exc.detail)
            if capability and request.user.is_authenticated:
                message = f"Your role may not do this (it needs the '{capability}' capability)."
            return error_response(message, exc.status_code, headers=headers)
        detail = exc.detail
        if isinstance(detail, dict | list):
            errors = _flatten_errors(detail)
            return error_response(_validation_sentence(errors), exc.status_code, errors, headers)
        return error_response(str(detail), exc.status_code, headers=headers)

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


# --------------------------------------------------------------------------------------------
# Pagination


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    invalid_page_message = "Page {page_number} does not exist: {message}"


# --------------------------------------------------------------------------------------------
# Idempotency-Key


class _Replay(Exception):
    """Raised inside `initial()` to short-circuit a request whose answer is already stored."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.record = record

    def response(self) -> Response:
        data = json.loads(self.record.response_body) if self.record.response_body else None
        headers = dict(self.record.response_headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(data, status=self.record.response_status, headers=headers)


def _hash_value(h: Any, value: Any) -> None:
    if isinstance(value, File):
        h.update(b"file:" + (value.name or "").encode())
        value.seek(0)
        for chunk in value.chunks():
            h.update(chunk)
        value.seek(0)
    elif isinstance(value, bytes):
        h.update(b"bytes:" + value)
    else:
        h.update(json.dumps(value, sort_keys=True, cls=JSONEncoder, default=str).encode())


def request_fingerprint(request: Request) -> str:
    """SHA-256 over method, path, sorted query and the PARSED body (so two multipart uploads of
    the same file with different boundaries are the same request)."""
    h = hashlib.sha256()
    h.update(request.method.encode() + b" " + request.path.encode() + b"?")
    h.update(json.dumps(sorted(request.query_params.lists())).encode())
    data = request.data
    if hasattr(data, "lists"):
        for name, values in sorted(data.lists(), key=lambda item: item[0]):
            h.update(b"\x00field:" + name.encode())
            for value in values:
                _hash_value(h, value)
    elif isinstance(data, dict) and any(isinstance(v, File | bytes) for v in data.values()):
        for name in sorted(data):
            h.update(b"\x00field:" + str(name).encode())
            _hash_value(h, data[name])
    else:
        _hash_value(h, data)
    return h.hexdigest()


def idempotency_purge() -> int:
    """Delete keys older than IDEMPOTENCY_TTL; returns how many."""
    cutoff = timezone.now() - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotency_begin(*, user: Any, key: str, request: Request) -> IdempotencyKey:
    """Claim `key` for this request, or raise: _Replay (answer stored), IdempotencyConflict
    (first request still running) or IdempotencyMismatch (key used for another request)."""
    fingerprint = request_fingerprint(request)
    idempotency_purge()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    method=request.method,
                    path=request.path[:2000],
                    request_hash=fingerprint,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:  # expired and purged between the two statements
                continue
            if existing.request_hash != fingerprint:
                raise IdempotencyMismatch() from None
            if existing.response_status is None:
                raise IdempotencyConflict() from None
            raise _Replay(existing) from None
    raise IdempotencyConflict()


def idempotency_finish(record: IdempotencyKey, response: Any) -> None:
    if response.status_code >= 500:
        # Nothing was promised: let the client retry with the same key.
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return
    data = getattr(response, "data", None)
    body = json.dumps(data, cls=JSONEncoder) if data is not None else ""
    headers = {h: response[h] for h in ("Location", "Content-Type") if response.has_header(h)}
    headers.pop("Content-Type", None)  # re-rendered on replay
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=response.status_code, response_body=body, response_headers=headers
    )


class IdempotencyMixin:
    """Honour `Idempotency-Key` on mutating methods. Runs after authentication and permission
    checks: a refused request never claims a key."""

    _idempotency_record: IdempotencyKey | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method not in MUTATING_METHODS:
            return
        # Parse the body now, so a malformed or too deeply nested one is a 400 even on actions
        # that read no body (approve, send), instead of being ignored while the action runs.
        request.data  # noqa: B018
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return
        key = key.strip()
        if not key or len(key) > 255 or not (key.isascii() and key.isprintable()):
            raise exceptions.ValidationError(
                {
                    IDEMPOTENCY_HEADER: [
                        "Must be 1 to 255 printable ASCII characters (a UUID is ideal)."
                    ]
                }
            )
        self._idempotency_record = idempotency_begin(user=request.user, key=key, request=request)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None and not response.has_header("Idempotent-Replayed"):
            idempotency_finish(record, response)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except BaseException:
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                IdempotencyKey.objects.filter(pk=record.pk).delete()
            raise


# --------------------------------------------------------------------------------------------
# Parsers and negotiation


class CSVUploadParser(BaseParser):
    """A raw CSV body (`Content-Type: text/csv`): handed to the view as bytes under "file"."""

    media_type = "text/csv"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        return {"file": stream.read() if stream is not None else b""}


class IgnoreFormatQueryNegotiation(DefaultContentNegotiation):
    """For views whose `?format=` is their own parameter (the AR aging export)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


# --------------------------------------------------------------------------------------------
# Schema


class BillableAutoSchema(AutoSchema):
    """Documents what every endpoint shares: the Idempotency-Key header and the error bodies."""

    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method in MUTATING_METHODS and isinstance(self.view, IdempotencyMixin):
            params.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    IDEMPOTENCY_KEY_SCHEMA,
                    OpenApiParameter.HEADER,
                    required=False,
                    description=(
                        "Any unique string (a UUID). Repeating the request with the same key and "
                        "body within 24 hours replays the first answer instead of acting twice; "
                        "the same key with a different request is refused with 422."
                    ),
                )
            )
        return params

    def _error_codes(self) -> dict[str, str]:
        codes = {
            "400": "Bad input: see `errors` for the fields.",
            "401": "Not logged in: send `Authorization: Token <key>` or a session cookie.",
            "403": "Your role may not do this (or CSRF failed for a session write).",
            "404": "No such record, or an invalid page.",
            "406": "The requested response format is not available.",
        }
        permissions = getattr(self.view, "permission_classes", [])
        if AllowAny in permissions:
            codes.pop("401")
            codes.pop("403")
        if self.method in MUTATING_METHODS:
            codes["415"] = "Unsupported request body content type."
            if isinstance(self.view, IdempotencyMixin):
                codes["409"] = "Refused: the record's state does not allow this (see `detail`)."
                codes["422"] = "The Idempotency-Key was already used with a different request."
        return codes

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, description in self._error_codes().items():
            if code in responses:
                continue
            response = self._get_response_for_code(
                ErrorSerializer, code, media_types=["application/json"], direction=direction
            )
            response["description"] = description
            responses[code] = response
        return responses


# --------------------------------------------------------------------------------------------
# Base views


class BillableAPIView(IdempotencyMixin, APIView):
    permission_classes = [HasCapability]


class BillableGenericAPIView(IdempotencyMixin, generics.GenericAPIView):
    permission_classes = [HasCapability]


class BillableViewSet(IdempotencyMixin, viewsets.GenericViewSet):
    permission_classes = [HasCapability]
    pagination_class = StandardPagination


class BillableReadOnlyViewSet(
    IdempotencyMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [HasCapability]
    pagination_class = StandardPagination


# --------------------------------------------------------------------------------------------
# Imports (CSV upload or JSON list)


class ImportErrorItemSerializer(serializers.Serializer):
    line = serializers.IntegerField(
        help_text="Physical line in the file (header = 1); 0 = the file."
    )
    column = serializers.CharField()
    message = serializers.CharField()


class ImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = ImportErrorItemSerializer(many=True)
    dry_run = serializers.BooleanField()


class ImportRejectedSerializer(ImportResultSerializer):
    detail = serializers.CharField()


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The CSV export, UTF-8.")


IMPORT_PARSERS = [BoundedJSONParser, MultiPartParser, FormParser, CSVUploadParser]


def parse_bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return False
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "y", "on"}:
        return True
    if value in {"0", "false", "no", "n", "off"}:
        return False
    raise exceptions.ValidationError({name: [f"Must be a boolean (1/0, true/false), got {raw!r}."]})


def import_schema(kind: str, columns: str) -> Any:
    return extend_schema(
        summary=f"Import {kind} (CSV upload or JSON list)",
        description=(
            f"All or nothing, idempotent by external key (SPEC 1). Send the CSV file as multipart "
            f"field `file`, or the raw CSV with `Content-Type: text/csv`, or a JSON list of objects "
            f"whose keys are the CSV column names ({columns}). A rejected file answers 400 with "
            f"every problem; nothing is written. `?dry_run=1` validates and counts without writing."
        ),
        parameters=[
            OpenApiParameter(
                "dry_run",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                required=False,
                description="Validate and count, write nothing.",
            ),
            *[
                OpenApiParameter(
                    name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description=text
                )
                for name, text in READ_PARAMETERS.items()
            ],
        ],
        request={
            "multipart/form-data": ImportUploadSerializer,
            "text/csv": OpenApiTypes.STR,
            "application/json": {"type": "array", "items": {"type": "object"}},
        },
        responses={
            200: ImportResultSerializer,
            400: PolymorphicProxySerializer(
                component_name="ImportFailure",
                serializers=[ImportRejectedSerializer, ErrorSerializer],
                resource_type_field_name=None,
            ),
        },
    )


READ_PARAMETERS = {
    "source": "Whose export: `auto` (default, from the header) or a source name (SPEC 1.4).",
    "date_order": "`mdy`, `dmy` or `ymd` for dates that are not ISO (default BILLING_DATE_ORDER).",
    "decimal": "`point` or `comma` (default BILLING_DECIMAL).",
    "encoding": "Force an encoding (e.g. `cp1252`).",
    "delimiter": "Force a delimiter (`,` `;` `tab` `|`).",
    "sheet": "XLSX sheet name (default: the first).",
}


def read_options_param(request: Request, sources: Any) -> Any:
    """The SPEC 1.4 reading options of an import request (query string or form fields)."""
    from core.reading import ReadOptions

    def param(name: str) -> str | None:
        value = request.query_params.get(name)
        if value is None and hasattr(request.data, "get") and not isinstance(request.data, list):
            value = request.data.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    choices = {
        "source": ("auto", *sources.names) if sources is not None else ("auto",),
        "date_order": ("mdy", "dmy", "ymd"),
        "decimal": ("point", "comma"),
    }
    values = {name: param(name) for name in READ_PARAMETERS}
    for name, allowed in choices.items():
        if values[name] is not None and values[name] not in allowed:
            raise exceptions.ValidationError(
                {name: [f"Must be one of {', '.join(allowed)}, got {values[name]!r}."]}
            )
    return ReadOptions(source=values.pop("source") or "auto", **values)


def run_import(
    request: Request, *, file_fn: Any, rows_fn: Any, sources: Any = None, **extra: Any
) -> Response:
    """Shared body of the import endpoints: pick the service variant from the request shape."""
    from io import BytesIO

    dry_run = parse_bool_param(request, "dry_run")
    if sources is not None:
        extra["options"] = read_options_param(request, sources)
    data = request.data
    user = request.user
    if isinstance(data, list):
        if not all(isinstance(row, dict) for row in data):
            raise exceptions.ValidationError(
                {"non_field_errors": ["A JSON import is a list of objects, one per row."]}
            )
        rows = [{str(k): "" if v is None else str(v) for k, v in row.items()} for row in data]
        result = rows_fn(rows=rows, user=user, dry_run=dry_run, **extra)
    else:
        upload = data.get("file") if hasattr(data, "get") else None
        if isinstance(upload, bytes):
            upload = BytesIO(upload)
            upload.name = "upload.csv"  # type: ignore[attr-defined]
        elif upload is None or isinstance(upload, str):
            raise exceptions.ValidationError(
                {
                    "file": [
                        "Send a CSV file (multipart field `file` or a text/csv body) or a JSON list."
                    ]
                }
            )
        result = file_fn(file=upload, user=user, dry_run=dry_run, **extra)
    body = {**result.as_dict(), "dry_run": dry_run}
    if result.source:
        body["source"] = result.source
    if not result.ok:
        count = len(result.errors)
        first = result.errors[0]
        body["detail"] = (
            f"The import was rejected and nothing was written: {count} problem(s), "
            f"the first: {first}."
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(body, status=status.HTTP_200_OK)


# --------------------------------------------------------------------------------------------
# Token authentication


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")


class ObtainTokenView(APIView):
    """POST username + password -> the user's API token (created on first use).

    Failed attempts count against the same limit as the login page (core.login)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        summary="Get an API token",
        request=AuthTokenSerializer,
        responses={
            200: TokenResponseSerializer,
            400: ErrorSerializer,
            429: ErrorSerializer,
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        limiter = _LoginLimiter(request)
        if limiter.locked_out():
            return error_response(limiter.message(), status.HTTP_429_TOO_MANY_REQUESTS)
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            limiter.record_failure()
            errors = _flatten_errors(serializer.errors)
            message = " ".join(errors.pop("non_field_errors", [])) or _validation_sentence(errors)
            return error_response(message, status.HTTP_400_BAD_REQUEST, errors or None)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class _LoginLimiter:
    """Adapter onto the login page's limiter (same counters, keyed by username and address)."""

    def __init__(self, request: Request) -> None:
        username = ""
        if hasattr(request.data, "get"):
            username = str(request.data.get("username") or "")
        # core.login reads username from POST and the address from META.
        self.shim = type("Shim", (), {"POST": {"username": username}, "META": request.META})()

    def locked_out(self) -> bool:
        return login.is_locked_out(self.shim)

    def record_failure(self) -> None:
        login.record_failure(self.shim)

    def message(self) -> str:
        minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
        return f"Too many failed log-ins. Try again in {minutes} minutes."


@csrf_exempt  # any method; it changes nothing (and a CSRF page would not be JSON)
def api_not_found(request: Any) -> Any:
    """Unknown addresses under /api/v1/ answer JSON like every other API error."""
    from django.http import JsonResponse

    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}. See /api/docs/ for the endpoints."},
        status=404,
    )
