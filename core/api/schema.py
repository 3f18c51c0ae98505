"""OpenAPI conventions: the Idempotency-Key header and the error bodies of every endpoint."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from core.api.errors import ErrorSerializer
from core.api.idempotency import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_KEY_SCHEMA,
    MUTATING_METHODS,
    IdempotencyMixin,
)


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

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
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


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Documents core.tokens.HashedTokenAuthentication as DRF's token scheme was documented."""

    target_class = "core.tokens.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token authentication with the prefix "Token": '
            "`Authorization: Token <token>` (tokens: /accounts/tokens/).",
        }
