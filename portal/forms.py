"""Portal forms: validate shape only; services decide, mask card numbers and write."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from core.dates import DATE_BOUNDS
from receivables.forms import DateInput, category_choices


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Your e-mail address")


class NoticeForm(forms.Form):
    date = forms.DateField(
        validators=DATE_BOUNDS,
        label="Paid on",
        widget=DateInput(format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reference = forms.CharField(
        max_length=200, required=False, help_text="The reference you gave your bank."
    )


class PortalDisputeForm(forms.Form):
    category = forms.ChoiceField(choices=category_choices, label="What is wrong")
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))


class PortalMessageForm(forms.Form):
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
