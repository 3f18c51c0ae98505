"""`export_flags [--status S] [--format csv|json] [--output FILE]` (SPEC 5)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from timesheets import exports
from timesheets.models import Flag


class Command(BaseCommand):
    help = "Export reconciliation flags (columns code,status,subject,agreement_id,project_code,hours,detail)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--status", choices=Flag.Status.values, help="only flags in this status (default: all)"
        )
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = exports.flag_rows(status=options["status"])
        write = exports.write_json if options["format"] == "json" else exports.write_csv
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as fh:
                n = write(rows, fh)
            self.stderr.write(f"{n} flag{pluralize(n)} written to {options['output']}")
        else:
            # Straight to the real stdout: csv writes its own CRLF line ends.
            stream = self.stdout._out if hasattr(self.stdout, "_out") else sys.stdout
            write(rows, stream)
