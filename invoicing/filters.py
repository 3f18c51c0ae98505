"""Query filters of the invoicing API (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms

from core.dates import DATE_BOUNDS, parse_period
from core.filters import BoundedFilterSet
from invoicing.models import CreditNote, Invoice, InvoiceRun


class PeriodFormField(forms.CharField):
    """`YYYY-MM` -> the first day of that month (a field error otherwise)."""

    def clean(self, value):  # type: ignore[no-untyped-def]
        value = super().clean(value)
        if value in (None, ""):
            return None
        try:
            return parse_period(value.strip())
        except ValueError:
            raise forms.ValidationError("Must be a month as YYYY-MM, e.g. 2026-01.") from None


class PeriodFilter(django_filters.Filter):
    field_class = PeriodFormField


class InvoiceFilter(BoundedFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Invoice.Status.choices)
    account = django_filters.CharFilter(
        field_name="account__external_id", help_text="Account ID (exact)."
    )
    period = PeriodFilter(field_name="period", help_text="Billed month, YYYY-MM.")
    currency = django_filters.CharFilter()
    number = django_filters.CharFilter()
    po_number = django_filters.CharFilter()
    disputed = django_filters.BooleanFilter()
    run = django_filters.NumberFilter(field_name="run_id")
    invoice_date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="invoice_date", lookup_expr="gte"
    )
    invoice_date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="invoice_date", lookup_expr="lte"
    )
    due_date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="due_date", lookup_expr="gte"
    )
    due_date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="due_date", lookup_expr="lte"
    )

    class Meta:
        model = Invoice
        fields = ["status", "account", "period", "currency", "number", "po_number", "disputed"]


class InvoiceRunFilter(BoundedFilterSet):
    status = django_filters.ChoiceFilter(choices=InvoiceRun.Status.choices)
    period = PeriodFilter(field_name="period", help_text="YYYY-MM.")

    class Meta:
        model = InvoiceRun
        fields = ["status", "period"]


class CreditNoteFilter(BoundedFilterSet):
    invoice = django_filters.NumberFilter(field_name="invoice_id")
    account = django_filters.CharFilter(
        field_name="invoice__account__external_id", help_text="Account ID."
    )
    date_from = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="gte"
    )
    date_to = django_filters.DateFilter(
        validators=DATE_BOUNDS, field_name="date", lookup_expr="lte"
    )

    class Meta:
        model = CreditNote
        fields = ["invoice", "account", "currency"]
