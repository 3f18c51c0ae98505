"""The time-entry upload page (SPEC 1.2, 1.4): the same flow as agreements (core.import_pages)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from core.import_pages import ImportPage, import_view
from core.roles import require
from timesheets.importing import SOURCES, time_entry_import

TIME_ENTRIES_PAGE = ImportPage(
    kind="time_entries",
    title="Import time entries",
    url_name="timesheets:import",
    sources=SOURCES,
    run=time_entry_import,
    noun="time entries",
)


@require("entries.import")
def time_entry_import_page(request: HttpRequest) -> HttpResponse:
    return import_view(request, TIME_ENTRIES_PAGE)
