"""Query filters of the timesheets API (django-filter)."""

from __future__ import annotations

import django_filters

from core.dates import DATE_BOUNDS
from core.filters import BoundedFilterSet
from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry


class EmployeeFilter(BoundedFilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the name.")

    class Meta:
        model = Employee
        fields = ["name"]


class TimeEntryFilter(BoundedFilterSet):
    employee = django_filters.CharFilter(
        field_name="employee__external_id", help_text="Employee ID (exact)."
    )
    project_code = django_filters.CharFilter(help_text="Project Code (exact).")
    date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="lte"
    )
    billable = django_filters.BooleanFilter()
    approved = django_filters.BooleanFilter()
    locked = django_filters.BooleanFilter(help_text="On an approved invoice.")
    role = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = TimeEntry
        fields = ["employee", "project_code", "billable", "approved", "locked", "role"]


class FlagFilter(BoundedFilterSet):
    code = django_filters.MultipleChoiceFilter(choices=Flag.Code.choices)
    status = django_filters.MultipleChoiceFilter(choices=Flag.Status.choices)
    project_code = django_filters.CharFilter()
    entry = django_filters.CharFilter(field_name="entry__external_id", help_text="Entry ID.")
    agreement = django_filters.CharFilter(
        field_name="agreement__external_id", help_text="Agreement ID."
    )
    employee = django_filters.CharFilter(
        field_name="employee__external_id", help_text="Employee ID."
    )
    subject = django_filters.CharFilter()

    class Meta:
        model = Flag
        fields = ["code", "status", "project_code", "entry", "agreement", "employee", "subject"]


class ReconciliationRunFilter(BoundedFilterSet):
    status = django_filters.ChoiceFilter(choices=ReconciliationRun.Status.choices)

    class Meta:
        model = ReconciliationRun
        fields = ["status", "as_of"]
