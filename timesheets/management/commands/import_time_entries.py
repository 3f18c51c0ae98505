"""import_time_entries FILE [--dry-run] [--json] [--user NAME] [--source ...] [--replace-period]
(SPEC 1.2, 1.4 and 5)."""

from __future__ import annotations

from core.import_command import ImportCommand
from timesheets.importing import SOURCES, time_entry_import


class Command(ImportCommand):
    help = "Import the time tracker's export (all or nothing; re-import updates by Entry ID)."
    noun = "time entries"
    sources = SOURCES

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--replace-period",
            action="store_true",
            help="delete this source's entries of the file's period that it no longer has "
            "(flag them when invoiced)",
        )

    def handle(self, *args, **options):
        self.replace_period = options["replace_period"]
        return super().handle(*args, **options)

    def run_import(self, *, path, user, dry_run, options):
        return time_entry_import(
            file=path,
            user=user,
            dry_run=dry_run,
            options=options,
            replace_period=self.replace_period,
        )
