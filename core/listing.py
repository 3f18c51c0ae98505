"""What every list screen shares: date-range and sort parameters, the query string of the
current filters, and streamed CSV downloads through the one formula-neutralising cell helper."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, QueryDict, StreamingHttpResponse
from django.urls import reverse

from core.dates import DATE_BOUNDS
from core.exports import neutralize

PAGE_SIZE = 50
CSV_LINES_PER_CHUNK = 500  # lines per chunk of a streamed CSV download
T = TypeVar("T")


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


class _Line:
    """A file-like sink for csv.writer: `write` hands the formatted line back."""

    def write(self, text: str) -> str:
        return text


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A CSV download, streamed: `rows` is read lazily while the response is sent (memory does
    not grow with the rows when they come from a generator over chunks or a cursor); every cell
    goes through core.exports.neutralize (no live formula)."""
    writer = csv.writer(_Line(), lineterminator="\r\n")

    def lines() -> Iterator[str]:
        chunk = [writer.writerow(header)]
        for row in rows:
            chunk.append(writer.writerow([neutralize(cell) for cell in row]))
            if len(chunk) >= CSV_LINES_PER_CHUNK:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to `size` items, in order (itertools.batched before Python 3.12)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


class PkUrl:
    """`reverse(name, args=[pk])` for every row of a page at the cost of one reversal: a
    `{% url %}` costs about 40 us, and a page of 100 invoices linked up to three ways made 250 of
    them (10 ms a view). The URL is reversed once with a marker pk; a row's URL is the marker
    replaced by its pk (an int, so nothing to quote)."""

    _MARKER = "9182736450"

    def __init__(self, name: str) -> None:
        parts = reverse(name, args=[int(self._MARKER)]).split(self._MARKER)
        if len(parts) != 2:
            raise ImproperlyConfigured(f"{name} does not take one pk argument")
        self._head, self._tail = parts

    def __call__(self, pk: int) -> str:
        return f"{self._head}{int(pk)}{self._tail}"
