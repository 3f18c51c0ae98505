"""dunning [--as-of DATE]: send the reminders due (SPEC 4); the twin of receivables.tasks.dunning_task."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from core import csvio
from core.dates import firm_today
from receivables.dunning import dunning_run


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # a batch job: no URL or admin checks needed
    help = "Send the payment reminders due on a day (default today), each level once per invoice."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD (default: today in the firm's time zone)")

    def handle(self, *args, **options):
        as_of = firm_today()
        if options.get("as_of"):
            try:
                as_of = csvio.parse_date(options["as_of"].strip())
            except csvio.FieldError as exc:
                raise CommandError(f"--as-of {exc}", returncode=2) from None
        reminders = dunning_run(as_of=as_of, user=None)
        for reminder in reminders:
            self.stdout.write(
                f"{reminder.invoice.number} level {reminder.level}: {reminder.get_status_display()}"
                + (f" to {reminder.sent_to}" if reminder.sent_to else "")
            )
        sent = sum(1 for r in reminders if r.status == "sent")
        self.stdout.write(
            f"{as_of.isoformat()}: {sent} reminder{pluralize(sent)} sent, "
            f"{len(reminders) - sent} recorded as skipped"
        )
