"""`bootstrap_demo`: what `make run` (scripts/run_embedded.py) does before `runserver`.

Migrates; on an empty database seeds the demo firm (scale small); brings the flags up to date and
generates the last closed month's invoices as drafts for review (once per month: skipped when a
finished run for that month exists); creates one demo login per role; approves, as the demo
billing admin, the built-in mail texts that have no template yet; leaves the dashboard's default
month its stored unbilled value (computed when none is stored). Running it again changes
nothing and prints the logins again. Works with in-process tasks (no broker).
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand

from core.dates import firm_today, previous_month
from demo.management.commands.seed_demo import (
    DEMO_PASSWORD,
    DEMO_USERS,
    demo_mail_approve,
    demo_users_ensure,
)


class Command(BaseCommand):
    help = "Migrate, seed the demo firm when the database is empty, and print the demo logins."

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        from agreements.models import Agreement
        from timesheets.models import TimeEntry

        if not Agreement.objects.exists() and not TimeEntry.objects.exists():
            self.stdout.write("Empty database: seeding the demo firm (scale small)...")
            call_command("seed_demo", scale="small", stdout=self.stdout, stderr=self.stderr)
        users = demo_users_ensure()
        demo_mail_approve(users)  # a demo seeded before templates needed approval
        self._close_last_month(users)
        self._kpi_value()

        # "ready at URL" is the run script's to print, once the web server answers.
        lines = ["", f"Demo logins (password for all: {DEMO_PASSWORD}):"]
        for username, (role_names, superuser) in DEMO_USERS.items():
            what = "superuser, every role" if superuser else ", ".join(role_names)
            lines.append(f"  {username:<9} {what}")
        self.stdout.write("\n".join(lines) + "\n")

    def _close_last_month(self, users) -> None:
        from invoicing.models import InvoiceRun
        from invoicing.services import invoice_run_generate
        from timesheets.services import reconciliation_run

        today = firm_today()
        period = previous_month(today)
        if InvoiceRun.objects.filter(period=period, status=InvoiceRun.Status.DONE).exists():
            return
        reconciliation_run(as_of=today, user=users["manager"])
        run = invoice_run_generate(period=period, user=users["billing"])
        self.stdout.write(
            f"Reconciled as of {today} and generated {period:%Y-%m}: "
            f"{run.invoices_created} draft invoices to review."
        )

    def _kpi_value(self) -> None:
        """The dashboard's default month shows its unbilled value: the writes above refresh it
        (in-process tasks), and it is computed here when none is stored (a demo database of an
        earlier release, or BILLING_KPI_REFRESH_AFTER_WRITES off); the dashboard's GET never
        computes it."""
        from timesheets.models import UnbilledValueSnapshot
        from timesheets.services import unbilled_default_day, unbilled_snapshot_refresh

        last_day = unbilled_default_day()
        stored = UnbilledValueSnapshot.objects.filter(last_day=last_day, as_of__isnull=False)
        if not stored.exists():
            unbilled_snapshot_refresh(last_day=last_day)
