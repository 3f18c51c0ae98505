"""Sortable column headers: {% sort_th "total" "Total" num=True %}."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_th(context, key: str, label: str, num: bool = False) -> str:
    current = context.get("sort", "")
    base = context.get("sort_query", "")
    descending = current == key
    target = f"-{key}" if descending else key
    arrow, aria = "", "none"
    if current == key:
        arrow, aria = " ▲", "ascending"
    elif current == f"-{key}":
        arrow, aria = " ▼", "descending"
    href = f"?{base}&sort={target}" if base else f"?sort={target}"
    return format_html(
        '<th{} aria-sort="{}"><a href="{}">{}{}</a></th>',
        ' class="num"' if num else "",
        aria,
        href,
        label,
        arrow,
    )
