"""Forms of the invoice review screen. They only parse input; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from core.dates import DATE_BOUNDS

MONEY = {"max_digits": 14, "decimal_places": 2}


class LineAdjustForm(forms.Form):
    amount = forms.DecimalField(required=False, **MONEY)
    description = forms.CharField(required=False, max_length=500)
    reason = forms.CharField(max_length=1000, widget=forms.TextInput)

    def clean(self):
        data = super().clean()
        if data.get("amount") is None and not (data.get("description") or "").strip():
            raise forms.ValidationError("Give a new amount or a new description.")
        return data


class LineAddForm(forms.Form):
    description = forms.CharField(max_length=500)
    amount = forms.DecimalField(**MONEY)
    tax_rate = forms.DecimalField(
        max_digits=6,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
        help_text="Blank: the invoice's tax rate.",
    )
    agreement = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
    reason = forms.CharField(max_length=1000, widget=forms.TextInput)

    def __init__(self, *args, agreements=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agreement"].choices = [("", "(none)")] + [
            (a.pk, f"{a.external_id} {a.project_code}") for a in agreements
        ]


class NotesForm(forms.Form):
    """Notes and payment terms printed on the invoice and sent in its e-invoices."""

    notes = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Printed on the invoice; EN 16931 invoice note (BT-22).",
    )
    terms = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Payment terms",
        help_text="Blank: 'Payable within N days of the invoice date' (BT-20).",
    )


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=1000, widget=forms.TextInput)


class CreditNoteForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0.01"), **MONEY)
    reason = forms.CharField(max_length=1000, widget=forms.TextInput)
    date = forms.DateField(
        validators=DATE_BOUNDS,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: today.",
    )
