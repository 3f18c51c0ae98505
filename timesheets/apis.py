"""REST endpoints for employees, time entries (with the time-tracker import), reconciliation
flags (release / write off) and reconciliation runs (start one, poll it)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import (
    IMPORT_PARSERS,
    BillableReadOnlyViewSet,
    BillableViewSet,
    import_schema,
    parse_bool_param,
    run_import,
)
from timesheets import importing as entry_csv
from timesheets.filters import EmployeeFilter, FlagFilter, ReconciliationRunFilter, TimeEntryFilter
from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry
from timesheets.serializers import (
    EmployeeSerializer,
    FlagActionSerializer,
    FlagSerializer,
    ReconciliationRunSerializer,
    ReconciliationStartSerializer,
    TimeEntrySerializer,
)

ENTRY_COLUMNS = ", ".join(entry_csv.COLUMNS)


@extend_schema(tags=["time"])
class EmployeeViewSet(BillableReadOnlyViewSet):
    capability = "entries.view"
    queryset = Employee.objects.all()
    serializer_class = EmployeeSerializer
    filterset_class = EmployeeFilter
    lookup_field = "external_id"
    lookup_url_kwarg = "employee_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["name", "external_id"]
    ordering = ["name", "external_id"]


@extend_schema(tags=["time"])
class TimeEntryViewSet(BillableReadOnlyViewSet):
    """Hours from the time tracker. Looked up by Entry ID."""

    capability = "entries.view"
    action_capabilities = {"import_csv": "entries.import"}
    queryset = TimeEntry.objects.select_related("employee")
    serializer_class = TimeEntrySerializer
    filterset_class = TimeEntryFilter
    lookup_field = "external_id"
    lookup_url_kwarg = "entry_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["date", "external_id", "project_code", "duration_ms"]
    ordering = ["date", "external_id"]

    @import_schema("time entries", ENTRY_COLUMNS, flags={"replace_period": (
        "Delete the entries of the file's source and period (its first..last date) that the "
        "file no longer has; an invoiced one is kept and flagged CHANGED_AFTER_INVOICING. The "
        "answer's `deleted` counts them."
    )})  # fmt: skip
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
        from timesheets.importing import SOURCES, time_entry_import, time_entry_import_rows

        return run_import(
            request,
            file_fn=time_entry_import,
            rows_fn=time_entry_import_rows,
            sources=SOURCES,
            replace_period=parse_bool_param(request, "replace_period"),
        )


@extend_schema(tags=["flags"])
class FlagViewSet(BillableReadOnlyViewSet):
    """Reconciliation exceptions (SPEC 2). A services manager releases OVER_CAP / DUPLICATE_ENTRY
    flags (the entry is billed) or writes off any entry flag (never billed), with a reason."""

    capability = "flags.view"
    action_capabilities = {"release": "flags.act", "write_off": "flags.act"}
    queryset = Flag.objects.select_related("entry", "agreement", "employee", "actioned_by")
    serializer_class = FlagSerializer
    filterset_class = FlagFilter
    ordering_fields = ["code", "subject", "status", "raised_at", "hours"]
    ordering = ["code", "subject"]

    def get_serializer_class(self) -> Any:
        if self.action in {"release", "write_off"}:
            return FlagActionSerializer
        return FlagSerializer

    def _act(self, request: Request, service: Any) -> Response:
        flag = self.get_object()
        serializer = FlagActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flag = service(flag=flag, user=request.user, reason=serializer.validated_data["reason"])
        flag = self.get_queryset().get(pk=flag.pk)
        return Response(FlagSerializer(flag).data)

    @extend_schema(request=FlagActionSerializer, responses={200: FlagSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def release(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Release an OVER_CAP or DUPLICATE_ENTRY flag: the entry will be billed."""
        from timesheets.services import flag_release

        return self._act(request, flag_release)

    @extend_schema(request=FlagActionSerializer, responses={200: FlagSerializer})
    @action(
        detail=True,
        methods=["post"],
        url_path="write-off",
        filter_backends=[],
        pagination_class=None,
    )
    def write_off(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Write off an entry flag: the entry is never billed."""
        from timesheets.services import flag_write_off

        return self._act(request, flag_write_off)


@extend_schema(tags=["flags"])
class ReconciliationRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Reconciliation runs: start one (it runs in the background) and poll its progress."""

    capabilities = {"GET": "flags.view", "POST": "reconcile.run"}
    queryset = ReconciliationRun.objects.select_related("started_by")
    serializer_class = ReconciliationRunSerializer
    filterset_class = ReconciliationRunFilter
    ordering_fields = ["created_at", "as_of"]
    ordering = ["-created_at"]

    def get_serializer_class(self) -> Any:
        if self.action == "create":
            return ReconciliationStartSerializer
        return ReconciliationRunSerializer

    @extend_schema(
        request=ReconciliationStartSerializer, responses={202: ReconciliationRunSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from core.dates import firm_today
        from timesheets.services import reconciliation_start

        serializer = ReconciliationStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        as_of = serializer.validated_data.get("as_of") or firm_today()
        run = reconciliation_start(as_of=as_of, user=request.user)
        run.refresh_from_db()
        return Response(ReconciliationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
