"""`generate_invoices --period YYYY-MM` (SPEC 5): the same run as the monthly beat and the button."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from core.dates import parse_period
from core.errors import BillingError
from invoicing.services import invoice_run_generate


class Command(BaseCommand):
    help = "Generate (or complete) the draft invoices of a month. Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            period = parse_period(options["period"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        try:
            run = invoice_run_generate(period=period, user=None)
        except BillingError as exc:  # refused (a period not over yet): input rejected
            raise CommandError(str(exc), returncode=1) from exc
        except Exception as exc:  # recorded on the run too
            raise CommandError(f"invoice run failed: {exc}", returncode=1) from exc
        summary = {
            "run_id": run.pk,
            "period": f"{run.period:%Y-%m}",
            "status": run.status,
            "groups": run.groups_total,
            "invoices_created": run.invoices_created,
            "invoices_updated": run.invoices_updated,
            "lines_written": run.lines_written,
            "entries_billed": run.entries_billed,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Run {run.pk} for {summary['period']}: {run.invoices_created} "
                f"invoice{pluralize(run.invoices_created)} created, {run.invoices_updated} updated, "
                f"{run.entries_billed} entr{pluralize(run.entries_billed, 'y,ies')} billed."
            )
