"""import_agreements FILE [--dry-run] [--json] [--user NAME] [--source ...] (SPEC 1.1, 1.4, 5)."""

from __future__ import annotations

from agreements.services import SOURCES, agreement_import
from core.import_command import ImportCommand


class Command(ImportCommand):
    help = "Import the CRM's agreements export (all or nothing; re-import updates by Agreement ID)."
    noun = "agreements"
    sources = SOURCES

    def run_import(self, *, path, user, dry_run, options):
        return agreement_import(file=path, user=user, dry_run=dry_run, options=options)
