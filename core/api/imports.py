"""Import endpoints (CSV upload, raw text/csv body or JSON list): parameters, schema, shared body."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import ErrorSerializer
from core.api.negotiation import CSVUploadParser
from core.parsers import ImportJSONParser


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
    source = serializers.CharField(
        required=False, help_text="The source the file was read as (SPEC 1.4)."
    )
    deleted = serializers.IntegerField(
        required=False,
        help_text="Time entries only, with replace_period: entries of the file's source and "
        "period that it no longer has, deleted (or, in a dry run, that would be).",
    )


class ImportRejectedSerializer(ImportResultSerializer):
    detail = serializers.CharField()


MAPPING_PARAMETER = (
    "A mapping file's JSON (SPEC 1.4) as a form field, file or query value, or the name of a "
    "mapping saved from the upload page's mapping form."
)


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The export: CSV (any encoding of SPEC 1.4) or XLSX.")
    mapping = serializers.CharField(required=False, help_text=MAPPING_PARAMETER)


IMPORT_PARSERS = [ImportJSONParser, MultiPartParser, FormParser, CSVUploadParser]

# Stated in each import operation's schema (description and 413) and in docs/api.md.
BODY_LIMITS = (
    "Body limits: a JSON list at most `BILLING_JSON_MAX_BYTES` (default 10 MB, parsed in "
    "memory); a CSV or XLSX file (multipart or text/csv) at most `BILLING_IMPORT_MAX_BYTES` "
    "(default 50 MB, streamed to disk). A larger body is refused from its Content-Length before "
    "it is read: 413 with a JSON `detail`, nothing written. Send imports past the JSON limit as "
    "a CSV file."
)


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


def import_schema(kind: str, columns: str, flags: dict[str, str] | None = None) -> Any:
    """``flags``: boolean query parameters this import takes besides ``dry_run``."""
    return extend_schema(
        summary=f"Import {kind} (CSV upload or JSON list)",
        description=(
            f"All or nothing, idempotent by external key (SPEC 1). Send the CSV file as multipart "
            f"field `file`, or the raw CSV with `Content-Type: text/csv`, or a JSON list of objects "
            f"whose keys are the CSV column names ({columns}). A rejected file answers 400 with "
            f"every problem; nothing is written. `?dry_run=1` validates and counts without writing. "
            + BODY_LIMITS
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
                    name,
                    OpenApiTypes.BOOL,
                    OpenApiParameter.QUERY,
                    required=False,
                    description=text,
                )
                for name, text in (flags or {}).items()
            ],
            *[
                OpenApiParameter(
                    name, OpenApiTypes.STR, OpenApiParameter.QUERY, required=False, description=text
                )
                for name, text in {**READ_PARAMETERS, "mapping": MAPPING_PARAMETER}.items()
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
            413: OpenApiResponse(ErrorSerializer, description=BODY_LIMITS),
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
    return ReadOptions(
        source=values.pop("source") or "auto", mapping=_mapping_param(request, sources), **values
    )


def _mapping_param(request: Request, sources: Any) -> Any:
    """``mapping``: a mapping file's JSON (form field, uploaded file or query string) or the name
    of a saved mapping (SPEC 1.4)."""
    from core.reading import MappingError
    from core.reading.saved import mapping_for

    value = request.query_params.get("mapping")
    if value is None and hasattr(request.data, "get") and not isinstance(request.data, list):
        value = request.data.get("mapping")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if sources is None:
        raise exceptions.ValidationError({"mapping": ["This import does not take a mapping."]})
    try:
        return mapping_for(value, sources=sources)
    except MappingError as exc:
        raise exceptions.ValidationError({"mapping": [f"The mapping {exc}."]}) from None


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
    if extra.get("replace_period"):
        body["deleted"] = result.deleted  # what replace_period removed (or would remove)
    if not result.ok:
        count = len(result.errors)
        first = result.errors[0]
        body["detail"] = (
            f"The import was rejected and nothing was written: {count} problem(s), "
            f"the first: {first}."
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return Response(body, status=status.HTTP_200_OK)
