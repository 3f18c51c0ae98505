"""`reconcile [--as-of DATE] [--json]`: SPEC 2, the same service as the nightly task."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.csvio import FieldError, parse_date
from core.dates import firm_today
from timesheets.services import reconciliation_run


class Command(BaseCommand):
    help = "Bring the reconciliation flags up to date as of a date (default: today)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--as-of", dest="as_of", help="YYYY-MM-DD (or MM/DD/YYYY); default today"
        )
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = firm_today()
        if options["as_of"]:
            try:
                as_of = parse_date(options["as_of"].strip())
            except FieldError as exc:
                raise CommandError(f"--as-of: {exc}", returncode=2) from None
        run = reconciliation_run(as_of=as_of, user=None)
        by_code = run.result.open_by_code
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "as_of": as_of.isoformat(),
                        "run_id": run.pk,
                        "opened": run.opened,
                        "resolved": run.resolved,
                        "open_total": run.open_total,
                        "open_by_code": by_code,
                    }
                )
            )
            return
        self.stdout.write(
            f"Reconciliation as of {as_of.isoformat()}: {run.opened} opened, "
            f"{run.resolved} resolved, {run.open_total} open."
        )
        if by_code:
            self.stdout.write("Open flags by code:")
            width = max(len(code) for code in by_code)
            for code, count in by_code.items():
                self.stdout.write(f"  {code:<{width}}  {count}")
