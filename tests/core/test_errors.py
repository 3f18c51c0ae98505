"""core.errors.form_errors_text: an invalid form's errors on the one line a page flashes."""

from __future__ import annotations

from django import forms

from core.errors import form_errors_text
from invoicing.forms import LineAdjustForm


class _Labelled(forms.Form):
    due = forms.DateField(label="Due date")
    amount = forms.DecimalField()


def test_field_errors_are_named_by_label_then_the_form_errors():
    form = LineAdjustForm({"amount": "", "description": " ", "reason": ""})
    assert form_errors_text(form) == (
        "Reason: This field is required.; Give a new amount or a new description."
    )


def test_a_label_wins_over_the_field_name_and_each_field_is_one_part():
    form = _Labelled({"due": "31/02", "amount": "x"})
    assert form_errors_text(form) == "Due date: Enter a valid date.; Amount: Enter a number."


def test_a_valid_form_gives_nothing():
    assert form_errors_text(_Labelled({"due": "2026-12-03", "amount": "1.50"})) == ""
