from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.http import HttpRequest

T = TypeVar("T")


class BillingError(Exception):
    """A refused action, with a message a user can read (shown on pages, API errors and stderr)."""


def require_reason(reason: str | None, *, to: str = "") -> str:
    """The reason a recorded action needs, trimmed; refused when empty ("A reason is required
    to <to>.")."""
    text = (reason or "").strip()
    if not text:
        raise BillingError(f"A reason is required{f' to {to}' if to else ''}.")
    return text


def flash_outcome(
    request: HttpRequest, action: Callable[[], T], success: Callable[[T], str]
) -> T | None:
    """A page's service call: a refusal (BillingError) is flashed as the page's error and gives
    None; a done call flashes ``success(result)`` and gives the result."""
    try:
        result = action()
    except BillingError as exc:
        messages.error(request, str(exc))
        return None
    messages.success(request, success(result))
    return result


def form_errors_text(form: forms.BaseForm) -> str:
    """A form's errors on one line for a flashed message: "Label: error; other error"."""
    parts = []
    for name, errors in form.errors.items():
        label = "" if name == "__all__" else f"{form.fields[name].label or name.capitalize()}: "
        parts.append(label + " ".join(str(e) for e in errors))
    return "; ".join(parts)
