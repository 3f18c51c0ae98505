"""REST endpoints for invoice runs (start, poll), invoices (list, filter, lines, approve, reject,
adjust, send, PDF) and credit notes."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core import settlement
from core.api import (
    BillableReadOnlyViewSet,
    BillableViewSet,
    ErrorSerializer,
    IgnoreFormatQueryNegotiation,
    error_response,
)
from core.errors import BillingError
from invoicing.filters import CreditNoteFilter, InvoiceFilter, InvoiceRunFilter
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceLine, InvoiceRun
from invoicing.serializers import (
    CreditNoteCreateSerializer,
    CreditNoteSerializer,
    InvoiceAdjustSerializer,
    InvoiceApproveSerializer,
    InvoiceDetailSerializer,
    InvoiceRejectSerializer,
    InvoiceRunSerializer,
    InvoiceRunStartSerializer,
    InvoiceSerializer,
)

EINVOICE_SCHEMA = extend_schema(
    parameters=[
        OpenApiParameter(
            "fmt", str, OpenApiParameter.PATH, enum=["ubl", "cii", "facturx"], description="Format."
        )
    ],
    responses={
        (200, "application/xml"): OpenApiResponse(
            OpenApiTypes.BINARY, description="UBL 2.1 or CII D16B XML (EN 16931)."
        ),
        (200, "application/pdf"): OpenApiResponse(
            OpenApiTypes.BINARY, description="Factur-X: PDF/A-3 with factur-x.xml embedded."
        ),
        503: OpenApiResponse(
            ErrorSerializer,
            description="Factur-X only: the final PDF is still rendering; retry after "
            "`Retry-After` seconds (UBL and CII are always served).",
        ),
    },
)
EINVOICE_ACTION = {
    "detail": True,
    "methods": ["get"],
    # Any last segment reaches the view, which answers an unknown format with a JSON 404.
    "url_path": "einvoice/(?P<fmt>[^/]+)",
    "url_name": "einvoice",
    "renderer_classes": [JSONRenderer],
    "content_negotiation_class": IgnoreFormatQueryNegotiation,
    "filter_backends": [],
    "pagination_class": None,
}


def einvoice_response(subject: Invoice | CreditNote, fmt: str) -> HttpResponse | Response:
    """An approved invoice's or a credit note's e-invoice as a download (SPEC 3.2)."""
    from invoicing.einvoice import FORMATS, RETRY_AFTER_SECONDS, EInvoiceRendering, einvoice_file

    if fmt not in FORMATS:
        raise NotFound(f"No e-invoice format {fmt!r}; use ubl, cii or facturx.")
    try:
        file = einvoice_file(subject, fmt)
    except EInvoiceRendering as exc:
        # Not yet: 503 with Retry-After (a 2xx would be saved as the file by a download client).
        return error_response(
            str(exc),
            status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


@extend_schema(tags=["invoices"])
class InvoiceRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Invoice generation runs: start one for a month (it runs in the background) and poll it."""

    capabilities = {"GET": "invoices.view", "POST": "invoices.manage"}
    queryset = InvoiceRun.objects.select_related("started_by")
    serializer_class = InvoiceRunSerializer
    filterset_class = InvoiceRunFilter
    ordering_fields = ["created_at", "period"]
    ordering = ["-created_at", "-id"]

    def get_serializer_class(self) -> Any:
        return InvoiceRunStartSerializer if self.action == "create" else InvoiceRunSerializer

    @extend_schema(request=InvoiceRunStartSerializer, responses={202: InvoiceRunSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from invoicing.services import invoice_run_start

        serializer = InvoiceRunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = invoice_run_start(period=serializer.validated_data["period"], user=request.user)
        run = InvoiceRun.objects.select_related("started_by").get(pk=run.pk)
        return Response(
            InvoiceRunSerializer(run).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{request.path.rstrip('/')}/{run.pk}/"},
        )


@extend_schema(tags=["invoices"])
class InvoiceViewSet(BillableReadOnlyViewSet):
    """Invoices. Drafts are reviewed, adjusted, approved (numbered, PDF frozen) or rejected by a
    billing admin; a draft adjusted by one admin must be approved by another."""

    capability = "invoices.view"
    action_capabilities = {
        "approve": "invoices.manage",
        "reject": "invoices.manage",
        "adjust": "invoices.manage",
        "send": "invoices.manage",
    }
    filterset_class = InvoiceFilter
    ordering_fields = ["invoice_date", "due_date", "number", "total", "period", "id"]
    ordering = ["-invoice_date", "number", "id"]

    def get_queryset(self) -> Any:
        qs = settlement.annotate(
            Invoice.objects.select_related("account", "adjusted_by", "approved_by")
        )
        if self.action == "list":
            return qs
        return qs.prefetch_related(
            Prefetch(
                "lines",
                queryset=InvoiceLine.objects.select_related("agreement", "adjusted_by").order_by(
                    "position", "id"
                ),
            ),
            Prefetch("entry_billings", queryset=EntryBilling.objects.select_related("entry")),
        )

    def get_serializer_class(self) -> Any:
        return {
            "list": InvoiceSerializer,
            "reject": InvoiceRejectSerializer,
            "adjust": InvoiceAdjustSerializer,
            "approve": InvoiceApproveSerializer,
        }.get(self.action, InvoiceDetailSerializer)

    def _detail(self, invoice: Invoice) -> Response:
        invoice = self.get_queryset().get(pk=invoice.pk)
        return Response(InvoiceDetailSerializer(invoice).data)

    def _locked(self) -> Invoice:
        # Object-level lookup (404) before the service locks and re-checks the row.
        return self.get_object()

    @extend_schema(request=InvoiceApproveSerializer, responses={200: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def approve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Approve a draft at the `version` you reviewed: assigns INV-YYYY-NNNNN and freezes it.
        The final PDF is rendered in the background (`pdf_status` is `rendering` until then)."""
        from invoicing.services import invoice_approve

        invoice = self._locked()
        serializer = InvoiceApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_approve(
            invoice=invoice, user=request.user, version=serializer.validated_data["version"]
        )
        return self._detail(invoice)

    @extend_schema(request=InvoiceRejectSerializer, responses={200: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Reject a draft: its entries and milestones go back to the pool."""
        from invoicing.services import invoice_reject

        invoice = self._locked()
        serializer = InvoiceRejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_reject(
            invoice=invoice, user=request.user, reason=serializer.validated_data["reason"]
        )
        return self._detail(invoice)

    @extend_schema(request=InvoiceAdjustSerializer, responses={200: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def adjust(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change a line of a draft (`line` given) or add one (no `line`), with a reason."""
        from invoicing.services import invoice_line_add, invoice_line_adjust

        invoice = self._locked()
        serializer = InvoiceAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("line") is not None:
            line = InvoiceLine.objects.filter(pk=data["line"], invoice=invoice).first()
            if line is None:
                raise BillingError(f"Line {data['line']} is not on invoice {invoice}.")
            changes = {k: data[k] for k in ("amount", "description") if k in data}
            invoice_line_adjust(line=line, user=request.user, reason=data["reason"], **changes)
        else:
            invoice_line_add(
                invoice=invoice,
                user=request.user,
                reason=data["reason"],
                description=data["description"],
                amount=data["amount"],
                tax_rate=data.get("tax_rate"),
            )
        return self._detail(invoice)

    @extend_schema(request=None, responses={200: InvoiceDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def send(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """E-mail an approved invoice's PDF to the billing email. Nobody previews an API send,
        so it is refused (409, `detail` says why, nothing changes) while the invoice mail
        template is not approved by a billing admin (the Mail templates page)."""
        from invoicing.services import invoice_send

        invoice = invoice_send(invoice=self._locked(), user=request.user)
        return self._detail(invoice)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The final PDF, or a DRAFT preview."
            ),
            202: OpenApiResponse(
                ErrorSerializer,
                description="Rendering in the background (a fresh approval, a large draft): "
                "retry after `Retry-After` seconds.",
            ),
        }
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JSONRenderer],
        content_negotiation_class=IgnoreFormatQueryNegotiation,
        filter_backends=[],
        pagination_class=None,
    )
    def pdf(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The invoice PDF: the frozen file of an approved invoice, a preview for a draft."""
        invoice = self.get_object()
        content: bytes | None = None
        if invoice.pdf:
            with invoice.pdf.open("rb") as fh:
                content = fh.read()
        elif not invoice.is_final:
            from invoicing.previews import preview_get

            content = preview_get(invoice)
        if content is None:  # rendering in a worker
            what = "final PDF" if invoice.is_final else "preview"
            return Response(
                {"detail": f"The {what} is being rendered; retry shortly."},
                status=status.HTTP_202_ACCEPTED,
                headers={"Retry-After": "5"},
            )
        name = invoice.number or f"draft-{invoice.pk}"
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
        return response

    @EINVOICE_SCHEMA
    @action(**EINVOICE_ACTION)
    def einvoice(
        self, request: Request, fmt: str, *args: Any, **kwargs: Any
    ) -> HttpResponse | Response:
        """The approved invoice as an EN 16931 e-invoice: ubl, cii or facturx."""
        return einvoice_response(self.get_object(), fmt)


@extend_schema(tags=["invoices"])
class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Credit notes (CN-YYYY-NNNNN) against approved invoices; they reduce the open amount."""

    capabilities = {"GET": "invoices.view", "POST": "credit_notes.create"}
    queryset = CreditNote.objects.select_related("invoice__account", "created_by")
    serializer_class = CreditNoteSerializer
    filterset_class = CreditNoteFilter
    ordering_fields = ["date", "number", "amount"]
    ordering = ["-date", "number"]

    def get_serializer_class(self) -> Any:
        return CreditNoteCreateSerializer if self.action == "create" else CreditNoteSerializer

    @extend_schema(request=CreditNoteCreateSerializer, responses={201: CreditNoteSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from invoicing.services import credit_note_create

        serializer = CreditNoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        invoice = Invoice.objects.filter(pk=data["invoice"]).first()
        if invoice is None:
            from rest_framework.exceptions import ValidationError

            raise ValidationError({"invoice": [f"No invoice with id {data['invoice']}."]})
        note = credit_note_create(
            invoice=invoice,
            amount=data["amount"],
            reason=data["reason"],
            user=request.user,
            date=data.get("date"),
        )
        note = self.get_queryset().get(pk=note.pk)
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @EINVOICE_SCHEMA
    @action(**EINVOICE_ACTION)
    def einvoice(
        self, request: Request, fmt: str, *args: Any, **kwargs: Any
    ) -> HttpResponse | Response:
        """The credit note as an EN 16931 e-invoice: ubl, cii or facturx."""
        return einvoice_response(self.get_object(), fmt)
