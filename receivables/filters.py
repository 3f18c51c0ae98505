"""Query filters of the receivables API (django-filter)."""

from __future__ import annotations

import django_filters

from core.dates import DATE_BOUNDS
from core.filters import BoundedFilterSet
from receivables.models import Allocation, Payment, Reminder


class PaymentFilter(BoundedFilterSet):
    account = django_filters.CharFilter(field_name="account__external_id", help_text="Account ID.")
    currency = django_filters.CharFilter()
    date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="lte"
    )
    unapplied = django_filters.BooleanFilter(
        method="filter_unapplied", help_text="true: only payments with unapplied cash."
    )

    class Meta:
        model = Payment
        fields = ["account", "currency", "method"]

    def filter_unapplied(self, queryset, name, value):  # type: ignore[no-untyped-def]
        if value is None:
            return queryset
        return queryset.filter(unapplied__gt=0) if value else queryset.filter(unapplied__lte=0)


class AllocationFilter(BoundedFilterSet):
    payment = django_filters.CharFilter(field_name="payment__external_id", help_text="Payment ID.")
    invoice = django_filters.NumberFilter(field_name="invoice_id")
    reversed = django_filters.BooleanFilter(
        field_name="reversed_on", lookup_expr="isnull", exclude=True
    )
    date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="lte"
    )

    class Meta:
        model = Allocation
        fields = ["payment", "invoice"]


class ReminderFilter(BoundedFilterSet):
    invoice = django_filters.NumberFilter(field_name="invoice_id")
    level = django_filters.NumberFilter()
    status = django_filters.ChoiceFilter(choices=Reminder.Status.choices)
    sent_on_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="sent_on", lookup_expr="gte"
    )
    sent_on_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="sent_on", lookup_expr="lte"
    )

    class Meta:
        model = Reminder
        fields = ["invoice", "level", "status"]
