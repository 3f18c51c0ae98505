"""The one way money is shown in templates: {{ amount|money:currency }}."""

from decimal import Decimal

from django import template

from core.money import round_money

register = template.Library()


@register.filter
def money(value: Decimal | None, currency: str = "") -> str:
    if value is None or value == "":
        return "—"
    text = f"{round_money(Decimal(value)):,.2f}"
    return f"{currency} {text}".strip()


@register.filter
def hours(minutes: int | None) -> str:
    """Integer minutes shown as hours with 2 places."""
    if minutes is None:
        return "—"
    return f"{Decimal(minutes) / 60:.2f}"
