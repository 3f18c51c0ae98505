"""Token login: POST username + password -> an API token, behind the login limiter."""

from __future__ import annotations

from typing import Any

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
        username = str(request.data.get("username") or "") if hasattr(request.data, "get") else ""
        if login.locked_out(username, login.client_address(request)):
            return error_response(login.lockout_message(), status.HTTP_429_TOO_MANY_REQUESTS)
        # The password check goes through core.login.RateLimitedModelBackend (counts failures).
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            errors = _flatten_errors(serializer.errors)
            message = " ".join(errors.pop("non_field_errors", [])) or _validation_sentence(errors)
            return error_response(message, status.HTTP_400_BAD_REQUEST, errors or None)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})
