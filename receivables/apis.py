"""REST endpoints for payments (record, import), allocations (apply, reverse), invoice disputes,
dunning reminders and the AR aging report (SPEC 4 and 6)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.models import Account
from core.api import (
    IMPORT_PARSERS,
    BillableAPIView,
    BillableReadOnlyViewSet,
    BillableViewSet,
    IgnoreFormatQueryNegotiation,
    import_schema,
    run_import,
)
from core.dates import DATE_BOUNDS, firm_today
from invoicing.models import Invoice
from invoicing.serializers import InvoiceDetailSerializer
from receivables import importing as payment_csv
from receivables.filters import AllocationFilter, PaymentFilter, ReminderFilter
from receivables.models import Allocation, Payment, Reminder
from receivables.selectors import annotate_unapplied
from receivables.serializers import (
    AGING_JSON_SCHEMA,
    AllocationCreateSerializer,
    AllocationSerializer,
    PaymentAssignSerializer,
    PaymentCreateSerializer,
    PaymentDetailSerializer,
    PaymentSerializer,
    ReasonSerializer,
    ReminderSerializer,
)

PAYMENT_COLUMNS = ", ".join(payment_csv.COLUMNS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@extend_schema(tags=["receivables"])
class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Payments received, with how each was applied. Looked up by Payment ID."""

    capabilities = {"GET": "payments.view", "POST": "payments.manage"}
    filterset_class = PaymentFilter
    lookup_field = "external_id"
    lookup_url_kwarg = "payment_id"
    lookup_value_regex = "[^/]+"
    ordering_fields = ["date", "external_id", "amount"]
    ordering = ["-date", "external_id"]

    def get_queryset(self) -> Any:
        qs = annotate_unapplied(Payment.objects.select_related("account"))
        if self.action == "retrieve":
            qs = qs.prefetch_related("allocations__invoice", "allocations__payment")
        return qs

    def get_serializer_class(self) -> Any:
        return {
            "list": PaymentSerializer,
            "create": PaymentCreateSerializer,
            "import_csv": PaymentCreateSerializer,
            "assign": PaymentAssignSerializer,
        }.get(self.action, PaymentDetailSerializer)

    def _detail(self, payment: Payment) -> Any:
        return PaymentDetailSerializer(
            annotate_unapplied(Payment.objects.select_related("account", "assigned_by"))
            .prefetch_related("allocations__invoice", "allocations__payment")
            .get(pk=payment.pk)
        ).data

    @extend_schema(request=PaymentCreateSerializer, responses={201: PaymentDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record one payment; it is allocated at once (referenced invoices, then oldest due)."""
        from receivables.services import payment_record

        serializer = PaymentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = Account.objects.filter(external_id=data["account_id"]).first()
        if account is None:
            raise exceptions.ValidationError(
                {"account_id": [f"No account with Account ID {data['account_id']!r}."]}
            )
        payment = payment_record(
            account=account,
            date=data["date"],
            amount=data["amount"],
            currency=data["currency"],
            reference=data["reference"],
            method=data["method"],
            user=request.user,
            external_id=data.get("payment_id") or None,
        )
        return Response(self._detail(payment), status=status.HTTP_201_CREATED)

    @extend_schema(request=PaymentAssignSerializer, responses={200: PaymentDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def assign(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Assign an unassigned payment (SPEC 1.4) to an account: recorded with the user, the
        payer is remembered, and the payment is allocated as at import (SPEC 4)."""
        from receivables.services import payment_assign

        payment = self.get_object()
        serializer = PaymentAssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = serializer.validated_data["account_id"]
        account = Account.objects.filter(external_id=key).first()
        if account is None:
            raise exceptions.ValidationError(
                {"account_id": [f"No account with Account ID {key!r}."]}
            )
        payment = payment_assign(payment=payment, account=account, user=request.user)
        return Response(self._detail(payment))

    @import_schema("payments", PAYMENT_COLUMNS)
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
        """`?source=` names the file's source (SPEC 1.4; default auto: recognised); the billable
        CSV or XLSX is read with the reading options and mapping of the other imports."""
        from receivables.services import payment_import, payment_import_rows
        from receivables.sources import SOURCES

        return run_import(
            request, file_fn=payment_import, rows_fn=payment_import_rows, sources=SOURCES
        )


@extend_schema(tags=["receivables"])
class AllocationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Parts of payments applied to invoices. Applied by hand or reversed (never deleted)."""

    capabilities = {"GET": "payments.view", "POST": "payments.manage"}
    queryset = Allocation.objects.select_related("payment", "invoice", "created_by", "reversed_by")
    filterset_class = AllocationFilter
    ordering_fields = ["date", "id", "amount"]
    ordering = ["date", "id"]

    def get_serializer_class(self) -> Any:
        return {"create": AllocationCreateSerializer, "reverse": ReasonSerializer}.get(
            self.action, AllocationSerializer
        )

    @extend_schema(request=AllocationCreateSerializer, responses={201: AllocationSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Apply unapplied cash of a payment to an approved invoice of the same account."""
        from receivables.services import allocation_apply

        serializer = AllocationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = Payment.objects.filter(external_id=data["payment_id"]).first()
        invoice = Invoice.objects.filter(pk=data["invoice"]).first()
        errors = {}
        if payment is None:
            errors["payment_id"] = [f"No payment with Payment ID {data['payment_id']!r}."]
        if invoice is None:
            errors["invoice"] = [f"No invoice with id {data['invoice']}."]
        if errors:
            raise exceptions.ValidationError(errors)
        allocation = allocation_apply(
            payment=payment, invoice=invoice, amount=data["amount"], user=request.user
        )
        allocation = self.get_queryset().get(pk=allocation.pk)
        return Response(AllocationSerializer(allocation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReasonSerializer, responses={200: AllocationSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reverse(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Reverse an allocation with a reason: the cash is unapplied again, the invoice open."""
        from receivables.services import allocation_reverse

        allocation = self.get_object()
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        allocation = allocation_reverse(
            allocation=allocation, user=request.user, reason=serializer.validated_data["reason"]
        )
        allocation = self.get_queryset().get(pk=allocation.pk)
        return Response(AllocationSerializer(allocation).data)


class _InvoiceActionView(BillableAPIView):
    capability = "disputes.manage"

    def _invoice(self, pk: str) -> Invoice:
        invoice = Invoice.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
        if invoice is None:
            raise exceptions.NotFound("No such invoice.")
        return invoice

    def _detail(self, invoice: Invoice) -> Response:
        from invoicing.apis import InvoiceViewSet

        viewset = InvoiceViewSet()
        viewset.action = "retrieve"
        return Response(InvoiceDetailSerializer(viewset.get_queryset().get(pk=invoice.pk)).data)


@extend_schema(tags=["receivables"])
class InvoiceDisputeView(_InvoiceActionView):
    """Mark an approved invoice disputed: automatic allocation and dunning skip it."""

    @extend_schema(request=ReasonSerializer, responses={200: InvoiceDetailSerializer})
    def post(self, request: Request, pk: str) -> Response:
        from receivables.services import invoice_dispute

        invoice = self._invoice(pk)
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_dispute(
            invoice=invoice, user=request.user, reason=serializer.validated_data["reason"]
        )
        return self._detail(invoice)


@extend_schema(tags=["receivables"])
class InvoiceDisputeClearView(_InvoiceActionView):
    """Clear an invoice's dispute."""

    @extend_schema(request=None, responses={200: InvoiceDetailSerializer})
    def post(self, request: Request, pk: str) -> Response:
        from receivables.services import invoice_dispute_clear

        invoice = invoice_dispute_clear(invoice=self._invoice(pk), user=request.user)
        return self._detail(invoice)


@extend_schema(tags=["receivables"])
class ReminderViewSet(BillableReadOnlyViewSet):
    """Dunning reminders recorded (SPEC 4)."""

    capability = "dunning.view"
    queryset = Reminder.objects.select_related("invoice", "invoice__account")
    serializer_class = ReminderSerializer
    filterset_class = ReminderFilter
    ordering_fields = ["sent_on", "level", "id"]
    ordering = ["-sent_on", "-id"]


class AgingQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(
        validators=DATE_BOUNDS, required=False, help_text="Default: today (firm time zone)."
    )
    format = serializers.ChoiceField(
        choices=["json", "csv", "xlsx"], required=False, default="json"
    )


@extend_schema(tags=["receivables"])
class AgingReportView(BillableAPIView):
    """AR aging as of a date (SPEC 4): buckets per (account, currency), a TOTAL per currency."""

    capability = "aging.view"
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreFormatQueryNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", OpenApiTypes.DATE, description="Default: today."),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(AGING_JSON_SCHEMA, description="JSON"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV (SPEC 4)"),
            (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Excel workbook"),
        },
    )
    def get(self, request: Request) -> Any:
        from receivables.aging import aging_report

        query = AgingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        as_of: dt.date = query.validated_data.get("as_of") or firm_today()
        fmt = query.validated_data["format"]
        report = aging_report(as_of=as_of)
        filename = f"ar-aging-{as_of.isoformat()}"
        if fmt == "csv":
            response = HttpResponse(report.to_csv(), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
            return response
        if fmt == "xlsx":
            response = HttpResponse(report.to_xlsx(), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
            return response
        return Response(report.as_dict())
