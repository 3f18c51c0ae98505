"""Base views every app API derives from, and the JSON 404 under /api/v1/."""

from __future__ import annotations

from typing import Any

from django.views.decorators.csrf import csrf_exempt
from rest_framework import generics, mixins, viewsets
from rest_framework.views import APIView

from core.api.idempotency import IdempotencyMixin
from core.api.pagination import StandardPagination
from core.roles import HasCapability


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


@csrf_exempt  # any method; it changes nothing (and a CSRF page would not be JSON)
def api_not_found(request: Any) -> Any:
    """Unknown addresses under /api/v1/ answer JSON like every other API error."""
    from django.http import JsonResponse

    return JsonResponse(
        {"detail": f"No API endpoint at {request.path}. See /api/docs/ for the endpoints."},
        status=404,
    )
