"""export_accounting --format qbo|xero|datev --from DATE --to DATE --output FILE (SPEC 5).

Approved invoices and credit notes dated in the range (both days included). Xero: more than 500
invoices are written as a zip of CSV files. Exit 1 when the export is refused (e.g. a DATEV
range across fiscal years), 2 on usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core import csvio
from core.errors import BillingError
from invoicing.accounting import FORMATS, accounting_export


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Write approved invoices and credit notes of a date range for QuickBooks, Xero or DATEV."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--format", choices=FORMATS, required=True)
        parser.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD")
        parser.add_argument("--output", required=True, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            start = csvio.parse_date(options["start"].strip())
            end = csvio.parse_date(options["end"].strip())
        except csvio.FieldError as exc:
            raise CommandError(f"--from/--to {exc}", returncode=2) from None
        try:
            file = accounting_export(fmt=options["format"], start=start, end=end)
        except BillingError as exc:
            raise CommandError(str(exc), returncode=1) from None
        path = Path(options["output"])
        try:
            path.write_bytes(file.content)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}", returncode=2) from None
        skipped = f", {file.skipped} in other currencies skipped" if file.skipped else ""
        noun = "document" if file.documents == 1 else "documents"
        self.stderr.write(f"{file.documents} {noun} written to {path}{skipped}")
