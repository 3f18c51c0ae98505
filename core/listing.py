"""What every list screen shares: date-range and sort parameters, the query string of the
current filters, and CSV downloads through the one formula-neutralising cell helper."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict

from core.dates import DATE_BOUNDS
from core.exports import neutralize

PAGE_SIZE = 50


class DateRangeForm(forms.Form):
    """From/To dates (inclusive). A From after To is not an error: the list is simply empty
    (`empty_range`), and the page says why."""

    date_from = forms.DateField(
        validators=DATE_BOUNDS,
        required=False,
        label="From",
        widget=forms.DateInput({"type": "date"}),
    )
    date_to = forms.DateField(
        validators=DATE_BOUNDS, required=False, label="To", widget=forms.DateInput({"type": "date"})
    )

    @property
    def empty_range(self) -> bool:
        data = getattr(self, "cleaned_data", {}) or {}
        first, last = data.get("date_from"), data.get("date_to")
        return bool(first and last and first > last)


def clean_sort(
    value: str | None, allowed: Mapping[str, Sequence[str]], default: str
) -> tuple[str, list[str]]:
    """`?sort=total` / `?sort=-total` -> (the key as given, the ORM ordering). Unknown keys fall
    back to `default`. Every ordering ends with the listed tie-breakers so pages are stable."""
    key = (value or "").strip() or default
    name = key.lstrip("-")
    if name not in allowed:
        key, name = default, default.lstrip("-")
    order = list(allowed[name])
    if key.startswith("-"):
        order = [f[1:] if f.startswith("-") else f"-{f}" for f in order]
    return key, order


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string without some parameters (for page and sort links)."""
    query: QueryDict = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    """A CSV download; every cell goes through core.exports.neutralize (no live formula)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralize(cell) for cell in row])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""
