"""Token login: POST username + password (+ the second-factor code) -> an API token, behind the
login limiter.

A user with a TOTP device sends its current code as `otp` (400 naming `otp` without it). With
BILLABLE_REQUIRE_2FA_SUPERUSERS on, a superuser without a device gets no token at all (403): a
token would skip the second factor the setting enforces on the pages (core.two_factor)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import login, two_factor
from core.api.errors import ErrorSerializer, _flatten_errors, _validation_sentence, error_response
from core.parsers import BoundedJSONParser
from core.tokens import token_create


class TokenRequestSerializer(AuthTokenSerializer):
    name = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        write_only=True,
        help_text="What the token is for (shown on the API tokens page).",
    )
    otp = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=12,
        write_only=True,
        help_text="The current authenticator code, for an account with a second factor.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send as `Authorization: Token <token>`. Shown only this once; only its hash "
        "is stored."
    )
    expires_at = serializers.DateTimeField()


class ObtainTokenView(APIView):
    """POST username + password -> a new API token, shown once (core.tokens).

    Failed attempts (a wrong password or code) count against the same limit as the login page
    (core.login). A user with a second factor sends its current code as `otp`. With
    BILLABLE_REQUIRE_2FA_SUPERUSERS on, a superuser without a second factor gets 403: set one up
    on /accounts/2fa/ first."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]
    serializer_class = TokenRequestSerializer

    @extend_schema(
        summary="Get an API token",
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        },
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        username = str(request.data.get("username") or "") if hasattr(request.data, "get") else ""
        if login.locked_out(username, login.client_address(request)):
            return error_response(login.lockout_message(), status.HTTP_429_TOO_MANY_REQUESTS)
        # The password check goes through core.login.RateLimitedModelBackend (counts failures).
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            errors = _flatten_errors(serializer.errors)
            message = " ".join(errors.pop("non_field_errors", [])) or _validation_sentence(errors)
            return error_response(message, status.HTTP_400_BAD_REQUEST, errors or None)
        data = serializer.validated_data
        code = str(request.data.get("otp") or "").strip() if hasattr(request.data, "get") else ""
        if not two_factor.token_code_ok(data["user"], code):
            login.note_failure(username, login.client_address(request))
            return error_response(
                "This account has a second factor: send the current code as `otp`.",
                status.HTTP_400_BAD_REQUEST,
                {"otp": ["Missing or not current."]},
            )
        if two_factor.must_enrol(data["user"]):
            return error_response(two_factor.ENROL_FIRST, status.HTTP_403_FORBIDDEN)
        record, raw = token_create(user=data["user"], name=data.get("name") or "API login")
        return Response(
            {"token": raw, "expires_at": record.expires_at},
            headers={"Cache-Control": "no-store"},
        )
