"""`export_payments [--format csv|json] [--output FILE]` (SPEC 5): every payment with how it is applied.

JSON: a list of payments with `payment_id`, `date`, `account_id` (null while unassigned), `amount`,
`currency`, `reference`, `method`, `source` and `allocations[]` (`invoice_number`, `amount`,
`date`; live allocations only), decimals as strings. CSV: one row per allocation (a payment with
none: one row with empty allocation cells), columns CSV_COLUMNS. Text cells that a spreadsheet
would run as a formula are prefixed with `'`.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from core.exports import neutralize
from receivables.selectors import payment_export_rows

PAYMENT_COLUMNS = [
    "payment_id", "date", "account_id", "amount", "currency", "reference", "method", "source",
]  # fmt: skip
ALLOCATION_COLUMNS = ["invoice_number", "allocation_amount", "allocation_date"]
CSV_COLUMNS = PAYMENT_COLUMNS + ALLOCATION_COLUMNS


def csv_rows(payments: list[dict]) -> list[list[str]]:
    out = []
    for payment in payments:
        head = [neutralize(payment[c]) for c in PAYMENT_COLUMNS]
        if not payment["allocations"]:
            out.append(head + [""] * len(ALLOCATION_COLUMNS))
        for a in payment["allocations"]:
            out.append(head + [neutralize(a["invoice_number"]), a["amount"], a["date"]])
    return out


class Command(BaseCommand):
    help = "Export every payment with its allocations (JSON or CSV)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--format", choices=["json", "csv"], default="json")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        payments = payment_export_rows()
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as fh:
                self._write(payments, options["format"], fh)
            self.stderr.write(
                f"{len(payments)} payment{pluralize(len(payments))} written to {options['output']}"
            )
        else:
            stream = self.stdout._out if hasattr(self.stdout, "_out") else sys.stdout
            self._write(payments, options["format"], stream)

    def _write(self, payments: list[dict], fmt: str, stream: Any) -> None:
        if fmt == "json":
            json.dump(payments, stream, indent=2)
            stream.write("\n")
            return
        writer = csv.writer(stream)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(payments))
