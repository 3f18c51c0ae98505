"""REST resource for finance and billing admins: portal contacts (list, filter, retrieve;
invite; revoke). The portal itself is not part of the staff API."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agreements.models import Account
from core.api import BillableViewSet
from core.api.fields import username_field
from portal.models import Contact


class ContactSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.external_id", read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)
    invited_by = username_field("invited_by")
    revoked_by = username_field("revoked_by")

    class Meta:
        model = Contact
        fields = [
            "id",
            "account_id",
            "email",
            "name",
            "active",
            "invited_by",
            "invited_at",
            "revoked_by",
            "revoked_at",
        ]
        read_only_fields = fields


class ContactInviteSerializer(serializers.Serializer):
    account_id = serializers.CharField(max_length=64, help_text="Account ID.")
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class ContactFilter(django_filters.FilterSet):
    account = django_filters.CharFilter(field_name="account__external_id", help_text="Account ID.")
    email = django_filters.CharFilter(lookup_expr="iexact")
    active = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull")

    class Meta:
        model = Contact
        fields = ["account", "email", "active"]


@extend_schema(tags=["portal"])
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, BillableViewSet):
    """Customer contacts who may sign in to the portal for their account."""

    capabilities = {"GET": "contacts.view", "POST": "contacts.manage"}
    queryset = Contact.objects.select_related("account", "invited_by", "revoked_by")
    filterset_class = ContactFilter
    ordering_fields = ["invited_at", "email", "id"]
    ordering = ["account__name", "email"]

    def get_serializer_class(self) -> Any:
        if self.action == "create":
            return ContactInviteSerializer
        return ContactSerializer

    @extend_schema(request=ContactInviteSerializer, responses={201: ContactSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Invite a contact: a single-use sign-in link is e-mailed to the address."""
        from portal.services import contact_invite

        serializer = ContactInviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        account = Account.objects.filter(external_id=data["account_id"]).first()
        if account is None:
            raise exceptions.ValidationError(
                {"account_id": [f"No account with Account ID {data['account_id']!r}."]}
            )
        contact = contact_invite(
            account=account, email=data["email"], name=data["name"], user=request.user
        )
        contact = self.get_queryset().get(pk=contact.pk)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ContactSerializer})
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def revoke(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Revoke: the contact's links and sessions stop working at once."""
        from portal.services import contact_revoke

        contact = contact_revoke(contact=self.get_object(), user=request.user)
        return Response(ContactSerializer(self.get_queryset().get(pk=contact.pk)).data)
