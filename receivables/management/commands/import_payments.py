"""import_payments FILE [--source S] [--mapping FILE] [--encoding E] [--delimiter D]
[--date-order O] [--decimal M] [--sheet NAME] [--dry-run] [--json] [--user NAME] (SPEC 1.3, 1.4
and 5): the billable CSV (or XLSX) or a bank statement, allocated in file order."""

from __future__ import annotations

import os
from typing import Any

from core.import_command import ImportCommand
from receivables.services import payment_import
from receivables.sources import SOURCES


class Command(ImportCommand):
    help = (
        "Import payments: the billable CSV or XLSX (SPEC 1.3) or a bank statement (camt.053, "
        "BAI2, OFX, MT940, bank CSV), and allocate them in file order."
    )
    noun = "payments"
    sources = SOURCES

    def run_import(self, *, path: str, user: Any, dry_run: bool, options: Any) -> Any:
        return payment_import(
            file=path, user=user, dry_run=dry_run, options=options,
            file_name=os.path.basename(path),
        )  # fmt: skip
