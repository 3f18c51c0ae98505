"""REST resource for disputes (finance): list, filter, retrieve with the thread; open, comment,
credit (four-eyes above the configured amount), approve or decline a credit, reject, re-bill.
Attachments are sent through the pages or the portal; the API lists them."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import BillableViewSet
from invoicing.models import Invoice
from receivables.models import Dispute
from receivables.serializers import (
    DisputeCommentSerializer,
    DisputeCreateSerializer,
    DisputeCreditSerializer,
    DisputeDetailSerializer,
    DisputeMessageSerializer,
    DisputeSerializer,
    ReasonSerializer,
)


class DisputeFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(
        field_name="invoice__account__external_id", help_text="Account ID."
    )
    invoice_number = django_filters.CharFilter(field_name="invoice__number")
    open = django_filters.BooleanFilter(method="filter_open", help_text="true: open only.")

    class Meta:
        model = Dispute
        fields = ["status", "category", "invoice"]

    def filter_open(self, queryset, name, value):  # type: ignore[no-untyped-def]
        if value is None:
            return queryset
        method = queryset.filter if value else queryset.exclude
        return method(status__in=Dispute.OPEN_STATUSES)


@extend_schema(tags=["receivables"])
class DisputeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Customer disputes of invoices or lines, with category, SLA, thread and resolution."""

    capabilities = {"GET": "disputes.view", "POST": "disputes.manage"}
    action_capabilities = {
        "comment": "disputes.manage",
        "credit": "disputes.resolve",
        "approve_credit": "disputes.resolve",
        "decline_credit": "disputes.resolve",
        "reject": "disputes.resolve",
        "rebill": "disputes.resolve",
    }
    filterset_class = DisputeFilter
    ordering_fields = ["opened_at", "sla_due_at", "resolved_at", "id"]
    ordering = ["-opened_at", "-id"]

    def get_queryset(self) -> Any:
        qs = Dispute.objects.select_related(
            "invoice", "invoice__account", "opened_by", "resolved_by", "credit_proposed_by"
        ).prefetch_related("lines")
        qs = qs.select_related("credit_note")
        if self.action != "list":
            qs = qs.prefetch_related("messages__author", "messages__attachments")
        return qs

    def get_serializer_class(self) -> Any:
        return {
            "list": DisputeSerializer,
            "create": DisputeCreateSerializer,
            "comment": DisputeCommentSerializer,
            "credit": DisputeCreditSerializer,
            "decline_credit": ReasonSerializer,
            "reject": ReasonSerializer,
            "rebill": ReasonSerializer,
        }.get(self.action, DisputeDetailSerializer)

    def _detail(self, dispute: Dispute, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().prefetch_related("messages__attachments").get(pk=dispute.pk)
        return Response(DisputeDetailSerializer(fresh).data, status=code)

    def _body(self, serializer_class: Any, request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(request=DisputeCreateSerializer, responses={201: DisputeDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open a dispute on a final invoice on the customer's behalf."""
        from receivables.disputes import dispute_open

        data = self._body(DisputeCreateSerializer, request)
        invoice = Invoice.objects.filter(pk=data["invoice"]).first()
        if invoice is None:
            raise exceptions.ValidationError(
                {"invoice": [f"No invoice with id {data['invoice']}."]}
            )
        lines = list(invoice.lines.filter(pk__in=data["lines"]))
        if len(lines) != len(set(data["lines"])):
            raise exceptions.ValidationError({"lines": ["A line is not on this invoice."]})
        dispute = dispute_open(
            invoice=invoice,
            category=data["category"],
            message=data["message"],
            lines=lines,
            user=request.user,
        )
        return self._detail(dispute, status.HTTP_201_CREATED)

    @extend_schema(request=DisputeCommentSerializer, responses={201: DisputeMessageSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def comment(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from receivables.disputes import dispute_comment

        data = self._body(DisputeCommentSerializer, request)
        message = dispute_comment(
            dispute=self.get_object(),
            message=data["message"],
            internal=data["internal"],
            user=request.user,
        )
        return Response(DisputeMessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DisputeCreditSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def credit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Credit note for the amount; above BILLING_DISPUTE_FOUR_EYES_AMOUNT it awaits another
        user's approval (status pending_approval)."""
        from receivables.disputes import dispute_credit

        data = self._body(DisputeCreditSerializer, request)
        dispute = dispute_credit(
            dispute=self.get_object(),
            amount=data["amount"],
            reason=data["reason"],
            user=request.user,
        )
        return self._detail(dispute)

    @extend_schema(request=None, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"], url_path="approve-credit", filter_backends=[])
    def approve_credit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from receivables.disputes import dispute_credit_approve

        return self._detail(dispute_credit_approve(dispute=self.get_object(), user=request.user))

    @extend_schema(request=ReasonSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"], url_path="decline-credit", filter_backends=[])
    def decline_credit(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from receivables.disputes import dispute_credit_decline

        reason = self._body(ReasonSerializer, request)["reason"]
        return self._detail(
            dispute_credit_decline(dispute=self.get_object(), user=request.user, reason=reason)
        )

    @extend_schema(request=ReasonSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def reject(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from receivables.disputes import dispute_reject

        reason = self._body(ReasonSerializer, request)["reason"]
        return self._detail(
            dispute_reject(dispute=self.get_object(), user=request.user, reason=reason)
        )

    @extend_schema(request=ReasonSerializer, responses={200: DisputeDetailSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def rebill(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from receivables.disputes import dispute_rebill

        reason = self._body(ReasonSerializer, request)["reason"]
        return self._detail(
            dispute_rebill(dispute=self.get_object(), user=request.user, reason=reason)
        )
