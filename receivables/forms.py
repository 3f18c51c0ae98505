"""Forms for the finance pages. They validate input only; services decide and write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.template.defaultfilters import pluralize

from agreements.models import Account
from core.dates import DATE_BOUNDS, firm_today
from core.import_pages import ReadingOptionsForm
from receivables import payment_entry
from receivables.allocation import referenced_numbers
from receivables.statements import LABELS, SOURCES
from receivables.validation import currency_problem, future_date_problem


class DateInput(forms.DateInput):
    input_type = "date"


class AsOfForm(forms.Form):
    as_of = forms.DateField(
        validators=DATE_BOUNDS,
        label="As of",
        widget=DateInput(format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
    )

    def as_of_or_today(self):
        if self.is_bound and self.is_valid():
            return self.cleaned_data["as_of"]
        return firm_today()


class PaymentForm(forms.Form):
    """Record a payment by hand. The customer is picked first (an Account ID, offered from a
    list); its currencies and open invoices then shape the rest of the form. A ticked invoice is
    written into the reference, so the allocation rule (SPEC 4: invoices named in the reference
    first) pays it first; the service re-checks everything."""

    account = forms.CharField(label="Customer", max_length=64, help_text="Name or Account ID.")
    date = forms.DateField(
        validators=DATE_BOUNDS,
        widget=DateInput(format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
    )
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = forms.CharField(max_length=3, initial="USD")
    invoices = forms.TypedMultipleChoiceField(
        label="Pay these invoices first",
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
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
    # Set by the "Record it anyway" button after the likely-duplicate warning.
    confirm_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].widget.attrs.update({"list": "accounts", "autocomplete": "off"})
        self.picked: Account | None = None
        self.currencies: list[str] = []
        self.open_invoices: list = []
        self.more_invoices = False
        key = (self.data.get("account") if self.is_bound else self.initial.get("account")) or ""
        self.picked = _account_by_key(str(key))
        if self.picked is None:
            return
        self.currencies = payment_entry.account_currencies(self.picked)
        if self.currencies:
            default = "USD" if "USD" in self.currencies else self.currencies[0]
            self.fields["currency"] = _CurrencyChoice(
                choices=[(c, c) for c in self.currencies],
                initial=default,
                help_text=f"The currencies {self.picked.name} deals in.",
            )
            if not self.is_bound and self.initial.get("currency") not in self.currencies:
                self.initial["currency"] = default
        limit = payment_entry.CHECKLIST_LIMIT
        self.open_invoices = list(payment_entry.payable_invoices(self.picked)[: limit + 1])
        self.more_invoices = len(self.open_invoices) > limit
        self.open_invoices = self.open_invoices[:limit]
        self.fields["invoices"].choices = [(i.pk, i.number) for i in self.open_invoices]

    def ticked(self) -> set[str]:
        """The invoice ids ticked (as typed), for the checklist."""
        return {str(v) for v in (self["invoices"].value() or [])}

    def clean_account(self):
        key = self.cleaned_data["account"].strip()
        account = _account_by_key(key)
        if account is None:
            raise forms.ValidationError(f"No account with ID or name {key!r}.")
        return account

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

    def clean(self):
        data = super().clean()
        currency, chosen = data.get("currency"), data.get("invoices") or []
        by_pk = {i.pk: i for i in self.open_invoices}
        wrong = [by_pk[pk].number for pk in chosen if by_pk[pk].currency != currency]
        if currency and wrong:
            self.add_error(
                "invoices",
                f"{', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not in {currency}; "
                "a payment only pays invoices in its own currency.",
            )
        if data.get("reference") is not None and not wrong:
            numbers = [by_pk[pk].number for pk in sorted(chosen, key=list(by_pk).index)]
            data["reference"] = reference_with(numbers, data["reference"])
            if len(data["reference"]) > 500:
                self.add_error(
                    "invoices", "Too many invoices ticked for the 500-character reference."
                )
        return data


class _CurrencyChoice(forms.ChoiceField):
    """One of the customer's currencies; "usd" typed by an API-minded user is USD."""

    def to_python(self, value):
        return super().to_python(value).strip().upper()


def _account_by_key(key: str) -> Account | None:
    """An Account ID, or an exact name when only one account has it."""
    key = key.strip()
    if not key:
        return None
    account = Account.objects.filter(external_id=key).first()
    if account is None:
        named = list(Account.objects.filter(name__iexact=key)[:2])
        account = named[0] if len(named) == 1 else None
    return account


def reference_with(numbers: list[str], reference: str) -> str:
    """The reference with the ticked invoice numbers in front (those it does not name yet), so the
    allocation pays them first, in the order shown on the page."""
    named = set(referenced_numbers(reference))
    missing = [n for n in numbers if n.upper() not in named]
    return " ".join([*missing, reference.strip()]).strip()


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


class UploadForm(ReadingOptionsForm):
    """A payments file and how to read it (SPEC 1.4; the reading options apply to the billable
    CSV or XLSX, a statement format is read as the bank writes it)."""

    file = forms.FileField(label="Payments file")
    source = forms.ChoiceField(
        choices=[("auto", "Recognise it"), *((s, LABELS[s]) for s in SOURCES)],
        initial="auto",
        required=False,
        help_text="The billable CSV or a bank statement (camt.053, BAI2, OFX, MT940, bank CSV).",
    )
    field_order = ["file", "source", "mapping"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offer_mappings("payments")


def category_choices() -> list[tuple[str, str]]:
    from receivables.disputes import categories

    return [
        (key, f"{label} (SLA {days} day{pluralize(days)})")
        for key, (label, days) in categories().items()
    ]


class DisputeOpenForm(forms.Form):
    category = forms.ChoiceField(choices=category_choices)
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))


class DisputeCommentForm(forms.Form):
    message = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))
    internal = forms.BooleanField(required=False, label="Internal note (not shown to the customer)")


class DisputeCreditForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = forms.CharField(max_length=2000)
