"""requeue_stale_runs [--minutes N]: re-send runs whose task message was lost (invoicing/recovery.py)."""

import datetime as dt

from django.core.management.base import BaseCommand

from invoicing.recovery import stale_runs_requeue


class Command(BaseCommand):
    help = (
        "Re-send invoice runs, reconciliation runs and approval jobs still queued after N minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=10, help="queued for longer than this")

    def handle(self, *args, **options):
        if options["minutes"] < 0:
            self.stderr.write("--minutes must be 0 or more")
            raise SystemExit(2)
        sent = stale_runs_requeue(queued_for=dt.timedelta(minutes=options["minutes"]))
        self.stdout.write(
            f"Re-sent {len(sent['invoice_runs'])} invoice run(s) {sent['invoice_runs']}, "
            f"{len(sent['reconciliation_runs'])} reconciliation run(s) {sent['reconciliation_runs']}"
            f" and {len(sent['approval_jobs'])} approval job(s) {sent['approval_jobs']}."
        )
