"""`export_invoices [--status S] [--format json|csv] [--output FILE]` (SPEC 5).

JSON: a list of invoices with SPEC's fields, decimals as strings. CSV: one row per invoice line
(an invoice without lines: one row with empty line cells), columns CSV_COLUMNS; `entry_ids` on a
row are the Entry IDs billed on that line, separated by spaces. Text cells that start with
= + - @ tab or CR are prefixed with ' (formula injection) unless they are numbers.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from core.exports import neutralize
from invoicing.models import Invoice
from invoicing.selectors import invoice_export_rows

INVOICE_COLUMNS = [
    "id",
    "number",
    "status",
    "account_id",
    "currency",
    "po_number",
    "period",
    "invoice_date",
    "due_date",
    "net",
    "tax",
    "total",
    "open_amount",
]
LINE_COLUMNS = [
    "line_no",
    "agreement_id",
    "description",
    "role",
    "hours",
    "rate",
    "amount",
    "tax_rate",
    "entry_ids",
]
CSV_COLUMNS = INVOICE_COLUMNS + LINE_COLUMNS


def csv_rows(invoices: list[dict]) -> list[list[str]]:
    out = []
    for inv in invoices:
        head = [neutralize(inv[c]) for c in INVOICE_COLUMNS]
        if not inv["lines"]:
            out.append(head + [""] * len(LINE_COLUMNS))
        for n, line in enumerate(inv["lines"], start=1):
            cells = dict(line, line_no=n, entry_ids=" ".join(line["entry_ids"]))
            out.append(head + [neutralize(cells[c]) for c in LINE_COLUMNS])
    return out


class Command(BaseCommand):
    help = "Export invoices with their lines and entry IDs (JSON or CSV)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--status", choices=Invoice.Status.values, help="only this status")
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        invoices = invoice_export_rows(status=options["status"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as fh:
                self._write(invoices, options["format"], fh)
            self.stderr.write(
                f"{len(invoices)} invoice{pluralize(len(invoices))} written to {options['output']}"
            )
        else:
            stream = self.stdout._out if hasattr(self.stdout, "_out") else sys.stdout
            self._write(invoices, options["format"], stream)

    def _write(self, invoices: list[dict], fmt: str, stream: Any) -> None:
        if fmt == "json":
            # Entry IDs per line are a CSV convenience; the JSON line has SPEC's fields only.
            for inv in invoices:
                for line in inv["lines"]:
                    line.pop("entry_ids", None)
            json.dump(invoices, stream, indent=2)
            stream.write("\n")
            return
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(invoices))
