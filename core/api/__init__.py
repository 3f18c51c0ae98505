"""Shared REST machinery: JSON errors, pagination, Idempotency-Key, schema conventions, token login.

Every API view of the apps derives from `BillableAPIView`, `BillableViewSet` or
`BillableReadOnlyViewSet` (core.api.views), so that each one gets, without repeating it:
- capability checks (core.roles.HasCapability; the view declares what it needs),
- errors as `{"detail": "...", "errors": {field: [...]}}` (core.api.errors; never a traceback,
  never a 500 for bad input; a refused business action, BillingError, answers 409),
- `Idempotency-Key` support on POST/PUT/PATCH/DELETE (core.api.idempotency),
- page-number pagination with `page_size` (max 500), django-filter filtering and ordering.
Schema conventions live in core.api.schema, the import endpoints' shared body in core.api.imports,
token login in core.api.tokens. This module re-exports the names the apps and settings import.
"""

from core.api.errors import (
    ErrorSerializer,
    api_exception_handler,
    error_response,
)
from core.api.idempotency import (
    IDEMPOTENCY_HEADER,
    MUTATING_METHODS,
    IdempotencyConflict,
    IdempotencyMismatch,
    IdempotencyMixin,
    idempotency_begin,
    idempotency_finish,
    idempotency_purge,
    request_fingerprint,
)
from core.api.imports import (
    IMPORT_PARSERS,
    READ_PARAMETERS,
    import_schema,
    parse_bool_param,
    read_options_param,
    run_import,
)
from core.api.negotiation import CSVUploadParser, IgnoreFormatQueryNegotiation
from core.api.pagination import StandardPagination
from core.api.schema import BillableAutoSchema
from core.api.tokens import ObtainTokenView
from core.api.views import (
    BillableAPIView,
    BillableGenericAPIView,
    BillableReadOnlyViewSet,
    BillableViewSet,
    api_not_found,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "IMPORT_PARSERS",
    "MUTATING_METHODS",
    "READ_PARAMETERS",
    "BillableAPIView",
    "BillableAutoSchema",
    "BillableGenericAPIView",
    "BillableReadOnlyViewSet",
    "BillableViewSet",
    "CSVUploadParser",
    "ErrorSerializer",
    "IdempotencyConflict",
    "IdempotencyMismatch",
    "IdempotencyMixin",
    "IgnoreFormatQueryNegotiation",
    "ObtainTokenView",
    "StandardPagination",
    "api_exception_handler",
    "api_not_found",
    "error_response",
    "idempotency_begin",
    "idempotency_finish",
    "idempotency_purge",
    "import_schema",
    "parse_bool_param",
    "read_options_param",
    "request_fingerprint",
    "run_import",
]
