"""ar_aging --as-of DATE [--format csv|json|xlsx|pdf] [--output FILE] (SPEC 4 and 5).

CSV and JSON go to stdout unless --output is given. XLSX and PDF are binary: they need --output
(a usage error otherwise, exit 2) so a terminal never receives raw bytes.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import csvio
from receivables.aging import aging_report
from receivables.exports import aging_pdf


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a batch job: no URL or admin checks needed
    help = "AR aging as of a date, as CSV (default), JSON, XLSX or PDF."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", required=True, help="YYYY-MM-DD (or MM/DD/YYYY)")
        parser.add_argument("--format", choices=["csv", "json", "xlsx", "pdf"], default="csv")
        parser.add_argument("--output", help="Write to this file instead of stdout.")

    def handle(self, *args, **options):
        try:
            as_of = csvio.parse_date(options["as_of"].strip())
        except csvio.FieldError as exc:
            raise CommandError(f"--as-of {exc}", returncode=2) from None
        fmt = options["format"]
        output = options.get("output")
        if fmt in {"xlsx", "pdf"} and not output:
            raise CommandError(f"--format {fmt} is binary: give --output FILE", returncode=2)
        report = aging_report(as_of=as_of)
        if fmt == "csv":
            data: str | bytes = report.to_csv()
        elif fmt == "json":
            data = report.to_json() + "\n"
        elif fmt == "xlsx":
            data = report.to_xlsx()
        else:
            data = aging_pdf(report)
        if output:
            path = Path(output)
            try:
                if isinstance(data, bytes):
                    path.write_bytes(data)
                else:
                    path.write_text(data, encoding="utf-8", newline="")
            except OSError as exc:
                raise CommandError(f"cannot write {path}: {exc.strerror}", returncode=2) from None
        else:
            self.stdout.write(data, ending="")
