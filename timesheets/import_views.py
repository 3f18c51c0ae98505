"""The time-entry upload page (SPEC 1.2): the same preview -> confirm flow as agreements."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from agreements.views import ImportPage, import_view
from core.roles import require
from timesheets.importing import COLUMNS, REQUIRED, time_entry_import

TIME_ENTRIES_PAGE = ImportPage(
    kind="time_entries",
    title="Import time entries",
    url_name="timesheets:import",
    columns=COLUMNS,
    required=REQUIRED,
    run=time_entry_import,
    noun="time entries",
)


@require("entries.import")
def time_entry_import_page(request: HttpRequest) -> HttpResponse:
    return import_view(request, TIME_ENTRIES_PAGE)
