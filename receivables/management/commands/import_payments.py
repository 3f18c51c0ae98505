"""import_payments FILE [--dry-run] [--json] [--user NAME] (SPEC 1.3 and 5), allocated in file order."""

from __future__ import annotations

from core.csvio import ImportCommand
from receivables.services import payment_import


class Command(ImportCommand):
    help = "Import a bank remittance CSV (SPEC 1.3) and allocate the payments in file order."
    noun = "payments"

    def run_import(self, *, path, user, dry_run):
        return payment_import(file=path, user=user, dry_run=dry_run)
