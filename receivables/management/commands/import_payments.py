"""import_payments FILE [--source S] [--dry-run] [--json] [--user NAME] (SPEC 1.3, 1.4 and 5):
the billable CSV or a bank statement, allocated in file order."""

from __future__ import annotations

from typing import Any

from core.csvio import ImportCommand
from receivables.services import payment_import
from receivables.sources import SOURCES


class Command(ImportCommand):
    help = (
        "Import payments: the billable CSV (SPEC 1.3) or a bank statement (camt.053, BAI2, OFX, "
        "MT940, bank CSV), and allocate them in file order."
    )
    noun = "payments"
    sources = SOURCES

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        if not any("--source" in action.option_strings for action in parser._actions):
            parser.add_argument(
                "--source",
                choices=("auto", *SOURCES.names),
                default="auto",
                help="the file's source (default: recognised from its first bytes)",
            )

    def run_import(self, *, path, user, dry_run, options: Any = None):
        source = options.source_name() if options is not None else self._source
        return payment_import(file=path, user=user, dry_run=dry_run, source=source or "auto")

    def handle(self, *args: Any, **options: Any) -> None:
        self._source = options.get("source")
        super().handle(*args, **options)
