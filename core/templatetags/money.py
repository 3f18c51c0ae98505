"""The one way money is shown in templates: {{ amount|money:currency }}."""

from decimal import Decimal

from django import template

from core.money import format_money

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "") -> str:
    if value is None or value == "":
        return "—"
    return format_money(Decimal(value), currency)


@register.filter
def hours(minutes: int | None) -> str:
    """Integer minutes shown as hours with 2 places."""
    if minutes is None:
        return "—"
    return f"{Decimal(minutes) / 60:.2f}"


@register.filter
def quantity(value: Decimal | None) -> str:
    """A quantity without trailing zeros: 14.25, 1, -1, 0.8333."""
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return "0" if text == "-0" else text


@register.filter
def percent(value: Decimal | None) -> str:
    """A tax rate printed one way everywhere: 8.25, 19, 0, 8.875 (no % sign)."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
