"""export_agreements [--format csv|json] [--output FILE] (SPEC 5)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from agreements.exports import EXPORT_COLUMNS, agreement_export_rows
from core.exports import write_table


class Command(BaseCommand):
    help = "Every agreement with the columns of SPEC 1.1 as stored (CSV re-imports unchanged)."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "json"), default="csv")
        parser.add_argument("--output", help="write to FILE instead of stdout")

    def handle(self, *args, **options):
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                write_table(agreement_export_rows(), EXPORT_COLUMNS, options["format"], out)
        else:
            self.stdout.ending = ""  # the writer ends its own lines
            write_table(agreement_export_rows(), EXPORT_COLUMNS, options["format"], self.stdout)
