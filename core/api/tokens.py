"""Token login: POST username + password -> an API token, behind the login limiter."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import login
from core.api.errors import ErrorSerializer, _flatten_errors, _validation_sentence, error_response
from core.parsers import BoundedJSONParser


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
