"""REST endpoints for accounts and agreements (SPEC 6): read, filter, and the CRM import."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agreements import importing as agreement_csv
from agreements.filters import AccountFilter, AgreementFilter
from agreements.models import Account, Agreement
from agreements.serializers import AccountSerializer, AgreementSerializer
from core.api import IMPORT_PARSERS, BillableReadOnlyViewSet, import_schema, run_import

AGREEMENT_COLUMNS = ", ".join(agreement_csv.COLUMNS)


@extend_schema(tags=["agreements"])
class AccountViewSet(BillableReadOnlyViewSet):
    """Customers. Looked up by Account ID."""

    capability = "agreements.view"
    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    lookup_field = "external_id"
    lookup_url_kwarg = "account_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["name", "external_id", "created_at"]
    ordering = ["name", "external_id"]


@extend_schema(tags=["agreements"])
class AgreementViewSet(BillableReadOnlyViewSet):
    """Service agreements from the CRM, with rate cards and milestones. Looked up by Agreement ID."""

    capability = "agreements.view"
    action_capabilities = {"import_csv": "agreements.import"}
    queryset = Agreement.objects.select_related("account", "parent").prefetch_related(
        "role_rates", "milestones"
    )
    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
    lookup_field = "external_id"
    lookup_url_kwarg = "agreement_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["external_id", "project_code", "start_date", "end_date", "account__name"]
    ordering = ["external_id"]

    @import_schema("agreements", AGREEMENT_COLUMNS)
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=IMPORT_PARSERS,
        filter_backends=[],
        pagination_class=None,
    )
    def import_csv(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from agreements.services import SOURCES, agreement_import, agreement_import_rows

        return run_import(
            request, file_fn=agreement_import, rows_fn=agreement_import_rows, sources=SOURCES
        )
