"""export_time_entries [--format csv|json] [--output FILE] (SPEC 5).

Every entry with the columns of SPEC 1.2 (``Entry ID`` as stored, ``Hours`` as decimal hours),
plus ``source`` and ``invoice_number`` (empty / null until the entry is on an approved invoice).
It lives in invoicing because only invoicing knows the invoice numbers (apps depend one way).
Rows come in (Date, Entry ID) order (timesheets.ordering) and are streamed.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from core.exports import ExportCommand, plain_decimal
from timesheets.importing import COLUMNS
from timesheets.models import MS_PER_HOUR, TimeEntry
from timesheets.ordering import entry_order_by

EXPORT_COLUMNS = (*COLUMNS, "source", "invoice_number")
FIELDS = (
    "external_id", "date", "employee__external_id", "employee__name", "role", "project_code",
    "task", "duration_ms", "billable", "approved", "notes", "source", "billing__invoice__number",
)  # fmt: skip


def entry_export_rows() -> Iterator[dict[str, Any]]:
    entries = TimeEntry.objects.order_by(*entry_order_by()).values_list(*FIELDS)
    for row in entries.iterator(chunk_size=5000):
        values = dict(zip(FIELDS, row, strict=True))
        yield {
            "Entry ID": values["external_id"],
            "Date": values["date"].isoformat(),
            "Employee ID": values["employee__external_id"],
            "Employee Name": values["employee__name"] or None,
            "Role": values["role"] or None,
            "Project Code": values["project_code"],
            "Task": values["task"] or None,
            "Hours": plain_decimal(Decimal(values["duration_ms"]) / MS_PER_HOUR),
            "Billable": values["billable"],
            "Approved": values["approved"],
            "Notes": values["notes"] or None,
            "source": values["source"],
            "invoice_number": values["billing__invoice__number"] or None,
        }


class Command(ExportCommand):
    help = "Every time entry with the columns of SPEC 1.2 plus source and invoice_number."
    columns = EXPORT_COLUMNS

    def rows(self):
        return entry_export_rows()
