"""Forms for the finance pages. They validate input only; services decide and write."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from agreements.models import Account
from core.dates import firm_today
from receivables.statements import LABELS, SOURCES
from receivables.validation import currency_problem, future_date_problem


class DateInput(forms.DateInput):
    input_type = "date"


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        label="As of", widget=DateInput(format="%Y-%m-%d"), input_formats=["%Y-%m-%d", "%m/%d/%Y"]
    )

    def as_of_or_today(self):
        if self.is_bound and self.is_valid():
            return self.cleaned_data["as_of"]
        return firm_today()


class PaymentForm(forms.Form):
    account = forms.CharField(label="Account ID", max_length=64)
    date = forms.DateField(
        widget=DateInput(format="%Y-%m-%d"), input_formats=["%Y-%m-%d", "%m/%d/%Y"]
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.CharField(max_length=3, initial="USD")
    reference = forms.CharField(
        max_length=500,
        required=False,
        help_text="Invoice numbers in it (INV-YYYY-NNNNN) are paid first.",
    )
    method = forms.CharField(max_length=64, required=False)
    external_id = forms.CharField(
        label="Payment ID",
        max_length=64,
        required=False,
        help_text="The bank's ID; left empty, one is made up (MAN-…).",
    )

    def clean_account(self):
        key = self.cleaned_data["account"].strip()
        try:
            return Account.objects.get(external_id=key)
        except Account.DoesNotExist:
            raise forms.ValidationError(f"No account with ID {key!r}.") from None

    def clean_date(self):
        value = self.cleaned_data["date"]
        if problem := future_date_problem(value):
            raise forms.ValidationError(f"Date {problem}.")
        return value

    def clean_currency(self):
        value = self.cleaned_data["currency"].strip().upper()
        if problem := currency_problem(value):
            raise forms.ValidationError(f"Currency {problem}.")
        return value


class ApplyForm(forms.Form):
    invoice = forms.IntegerField(widget=forms.HiddenInput)
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=2000, widget=forms.TextInput(attrs={"size": 40}))


class AccountField(forms.CharField):
    """An Account ID typed by finance -> the Account (a readable error when there is none)."""

    def clean(self, value):
        key = (super().clean(value) or "").strip()
        try:
            return Account.objects.get(external_id=key)
        except Account.DoesNotExist:
            raise forms.ValidationError(f"No account with ID {key!r}.") from None


class AssignForm(forms.Form):
    account = AccountField(label="Account ID", max_length=64)


class UploadForm(forms.Form):
    file = forms.FileField(label="Payments file")
    source = forms.ChoiceField(
        choices=[("auto", "Recognise it"), *((s, LABELS[s]) for s in SOURCES)],
        initial="auto",
        required=False,
        help_text="The billable CSV or a bank statement (camt.053, BAI2, OFX, MT940, bank CSV).",
    )


def category_choices() -> list[tuple[str, str]]:
    from receivables.disputes import categories

    return [(key, f"{label} (SLA {days} days)") for key, (label, days) in categories().items()]


class DisputeOpenForm(forms.Form):
    category = forms.ChoiceField(choices=category_choices)
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class DisputeCommentForm(forms.Form):
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    internal = forms.BooleanField(required=False, label="Internal note (not shown to the customer)")


class DisputeCreditForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=2000)
