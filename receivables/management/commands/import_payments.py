"""import_payments FILE [--dry-run] [--json]: SPEC 1.3 with allocation (exit 0 / 1 / 2)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from receivables.services import payment_import


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a batch job: no URL or admin checks needed
    help = "Import a bank remittance CSV (SPEC 1.3) and allocate the payments in file order."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check and report; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print the SPEC 5 JSON summary.")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=2)
        result = payment_import(file=path, user=None, dry_run=options["dry_run"])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        else:
            for notice in result.notices:
                self.stdout.write(notice)
            prefix = "Dry run, nothing written: " if result.dry_run else ""
            if result.ok:
                self.stdout.write(
                    f"{prefix}{result.created} created, {result.updated} updated, "
                    f"{result.unchanged} unchanged"
                )
        for error in result.errors:
            self.stderr.write(str(error))
        if not result.ok:
            raise SystemExit(1)
