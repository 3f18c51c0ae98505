"""Forms of the exception dashboard: filters, flag actions, run now, month and backlog filters."""

from __future__ import annotations

import datetime as dt

from django import forms

from core.dates import DATE_BOUNDS, parse_period
from timesheets.models import Flag
from timesheets.selectors import FLAG_SORTS, FlagFilters

STATUS_CHOICES = [
    ("open", "Open"),
    ("resolved", "Resolved"),
    ("released", "Released"),
    ("written_off", "Written off"),
    ("all", "Any status"),
]
SORT_CHOICES = [(k, k) for k in FLAG_SORTS] + [(f"-{k}", f"-{k}") for k in FLAG_SORTS]


class FlagFilterForm(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    code = forms.ChoiceField(choices=[("", "All codes"), *Flag.Code.choices], required=False)
    customer = forms.CharField(
        required=False, max_length=255, label="Customer", help_text="Account ID or part of the name"
    )
    agreement = forms.CharField(required=False, max_length=64, label="Agreement ID")
    employee = forms.CharField(
        required=False,
        max_length=255,
        label="Employee",
        help_text="Employee ID or part of the name",
    )
    date_from = forms.DateField(
        validators=DATE_BOUNDS,
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        validators=DATE_BOUNDS,
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The From date is after the To date.")
        return data

    def filters(self) -> FlagFilters:
        """The filters to apply; an invalid form shows open flags unfiltered (with its errors)."""
        if not self.is_valid():
            return FlagFilters()
        d = self.cleaned_data
        status = d.get("status") or "open"
        return FlagFilters(
            status="" if status == "all" else status,
            code=d.get("code") or "",
            customer=d.get("customer") or "",
            agreement=d.get("agreement") or "",
            employee=d.get("employee") or "",
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
            sort=d.get("sort") or "code",
        )


class FlagActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("release", "Release"), ("write_off", "Write off")])
    reason = forms.CharField(
        max_length=2000,
        widget=forms.TextInput(attrs={"size": 40}),
        error_messages={"required": "A reason is required"},
    )


class BulkActionForm(FlagActionForm):
    flag = forms.TypedMultipleChoiceField(
        coerce=int,
        choices=(),
        required=True,
        error_messages={"required": "Select at least one flag"},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service refuses ids that do not exist, by name.
        raw = self.data.getlist("flag") if hasattr(self.data, "getlist") else []
        self.fields["flag"].choices = [(v, v) for v in raw if str(v).isdigit()]


class RunForm(forms.Form):
    as_of = forms.DateField(
        validators=DATE_BOUNDS,
        required=False,
        label="As of",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class MonthField(forms.CharField):
    def to_python(self, value: str | None) -> dt.date | None:  # type: ignore[override]
        value = (value or "").strip()
        if not value:
            return None
        try:
            return parse_period(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class MonthForm(forms.Form):
    month = MonthField(required=False, widget=forms.TextInput(attrs={"type": "month"}))


class BacklogForm(forms.Form):
    customer = forms.CharField(
        required=False, max_length=255, help_text="Account ID or part of the name"
    )
    all = forms.BooleanField(required=False, label="Include fully delivered")
