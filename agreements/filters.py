"""Query filters of the agreements API (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from agreements.matching import covers_day_q
from agreements.models import Account, Agreement
from core.dates import DATE_BOUNDS
from core.filters import BoundedFilterSet


class AccountFilter(BoundedFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")
    account_id = django_filters.CharFilter(field_name="external_id", help_text="Exact Account ID.")

    class Meta:
        model = Account
        fields = ["name", "account_id"]


class AgreementFilter(BoundedFilterSet):
    account = django_filters.CharFilter(
        field_name="account__external_id", help_text="Account ID (exact)."
    )
    project_code = django_filters.CharFilter(help_text="Project Code (exact).")
    stage = django_filters.ChoiceFilter(choices=Agreement.Stage.choices)
    agreement_type = django_filters.ChoiceFilter(choices=Agreement.Type.choices)
    currency = django_filters.CharFilter(help_text="ISO 4217 code.")
    parent = django_filters.CharFilter(
        field_name="parent__external_id", help_text="Parent Agreement ID (exact)."
    )
    start_date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="start_date", lookup_expr="gte"
    )
    start_date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="start_date", lookup_expr="lte"
    )
    active_on = django_filters.DateFilter(
        validators=DATE_BOUNDS,
        method="filter_active_on",
        help_text="Agreements whose dates cover this day.",
    )

    class Meta:
        model = Agreement
        fields = ["account", "project_code", "stage", "agreement_type", "currency", "parent"]

    def filter_active_on(self, queryset: QuerySet, name: str, value: object) -> QuerySet:
        return queryset.filter(covers_day_q(value))
