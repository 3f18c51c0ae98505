"""export_agreements [--format csv|json] [--output FILE] (SPEC 5)."""

from __future__ import annotations

from agreements.exports import EXPORT_COLUMNS, agreement_export_rows
from core.exports import ExportCommand


class Command(ExportCommand):
    help = "Every agreement with the columns of SPEC 1.1 as stored (CSV re-imports unchanged)."
    columns = EXPORT_COLUMNS

    def rows(self):
        return agreement_export_rows()
