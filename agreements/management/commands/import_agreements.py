"""import_agreements FILE [--dry-run] [--json] [--user NAME] (SPEC 1.1 and 5)."""

from __future__ import annotations

from agreements.services import agreement_import
from core.csvio import ImportCommand


class Command(ImportCommand):
    help = "Import the CRM's service agreements CSV (all or nothing; re-import updates by Agreement ID)."
    noun = "agreements"

    def run_import(self, *, path, user, dry_run):
        return agreement_import(file=path, user=user, dry_run=dry_run)
