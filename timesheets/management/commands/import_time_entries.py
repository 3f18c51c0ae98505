"""import_time_entries FILE [--dry-run] [--json] [--user NAME] (SPEC 1.2 and 5)."""

from __future__ import annotations

from core.csvio import ImportCommand
from timesheets.importing import time_entry_import


class Command(ImportCommand):
    help = "Import the time tracker's entries CSV (all or nothing; re-import updates by Entry ID)."
    noun = "time entries"

    def run_import(self, *, path, user, dry_run):
        return time_entry_import(file=path, user=user, dry_run=dry_run)
