"""`seed_demo [--scale small|firm]`: a realistic demo firm, loaded through the real imports.

Writes the generated CSV files (demo/generator.py) to a temporary folder and feeds them to the
same services as real data: agreement and time-entry imports, then, for each month of history
but the last closed one, an invoice run whose drafts are approved, then the customers' payments
(SPEC 1.3 import, with allocation). The last closed month is left for `bootstrap_demo` to
generate as drafts, so the billing admin has something to review.

The demo's time ends yesterday (the firm's today minus one), so the firm always looks current.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import roles
from core.dates import firm_today, previous_month
from demo import generator as demo

DEMO_PASSWORD = "billable-demo"
# username -> (roles, superuser). One login per role, plus a second billing admin because a
# draft adjusted by one billing admin must be approved by another (SPEC 3).
DEMO_USERS: dict[str, tuple[tuple[str, ...], bool]] = {
    "admin": ((), True),
    "billing": ((roles.BILLING_ADMIN,), False),
    "billing2": ((roles.BILLING_ADMIN,), False),
    "manager": ((roles.SERVICES_MANAGER,), False),
    "finance": ((roles.FINANCE,), False),
    "auditor": ((roles.AUDITOR,), False),
}


def demo_users_ensure() -> dict[str, Any]:
    """Create the demo users that are missing; leave existing ones exactly as they are."""
    User = get_user_model()
    users = {}
    with transaction.atomic():
        for username, (role_names, superuser) in DEMO_USERS.items():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username,
                    email=f"{username}@billable.example",
                    is_superuser=superuser,
                    is_staff=superuser,
                )
                user.set_password(DEMO_PASSWORD)
                user.save()
                for name in role_names:
                    user.groups.add(Group.objects.get(name=name))
            users[username] = user
    return users


def demo_mail_approve(users: dict[str, Any]) -> int:
    """Approve the built-in mail texts that have no template yet, as the demo's billing admin
    (recorded with who and when), so the demo's reminders, API sends and portal sign-in links
    go out; a real install approves them on the Mail templates page."""
    from core.mail import mail_templates_approve_builtin

    return mail_templates_approve_builtin(user=users["billing"])


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out, month = [], first.replace(day=1)
    while month <= last:
        out.append(month)
        month = demo.add_months(month, 1)
    return out


class Command(BaseCommand):
    help = "Load a realistic demo firm through the real import services (SPEC 5)."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=["small", "firm"], default="small")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--history-months",
            type=int,
            default=None,
            help="Months of approved invoices and payments before the last closed month "
            "(default: all for small, 2 for firm).",
        )

    def handle(self, *args, **options):
        from agreements.services import agreement_import
        from timesheets.importing import time_entry_import

        scale = options["scale"]
        today = firm_today()
        end = today - dt.timedelta(days=1)
        users = demo_users_ensure()
        demo_mail_approve(users)
        with tempfile.TemporaryDirectory(prefix="billable-demo-") as tmp:
            files = demo.write_demo_files(Path(tmp), scale=scale, seed=options["seed"], end=end)
            self.stdout.write(
                f"Generated {files.agreement_count} agreements and {files.entry_count} time "
                f"entries ({files.firm.start} to {files.firm.end})."
            )
            for label, service, path in (
                ("agreements", agreement_import, files.agreements),
                ("time entries", time_entry_import, files.entries),
            ):
                result = service(file=path, user=users["manager"])
                if result.errors:
                    shown = "\n".join(str(e) for e in result.errors[:20])
                    raise CommandError(f"demo {label} were rejected:\n{shown}")
                self.stdout.write(
                    f"Imported {label}: {result.created} created, {result.updated} updated, "
                    f"{result.unchanged} unchanged."
                )

            last_closed = previous_month(today)
            months = [m for m in _months(files.firm.start, last_closed) if m < last_closed]
            limit = options["history_months"]
            if limit is None:
                limit = len(months) if scale == "small" else 2
            months = months[len(months) - limit :] if limit > 0 else []
            approved = self._invoice_history(months, users)
            if approved:
                self._payments(approved, options["seed"], today, Path(tmp), users["finance"])
        self.stdout.write(self.style.SUCCESS("Demo firm ready."))

    def _invoice_history(
        self, months: list[dt.date], users: dict[str, Any]
    ) -> list[demo.OpenInvoice]:
        """Generate and approve each history month's invoices, as the billing team would have."""
        if not months:
            return []
        from invoicing.models import Invoice
        from invoicing.services import invoice_approve, invoice_run_generate

        for period in months:
            run = invoice_run_generate(period=period, user=users["billing"])
            drafts = list(
                Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT).order_by("id")
            )
            for invoice in drafts:
                invoice_approve(invoice=invoice, user=users["billing"], version=invoice.version)
            self.stdout.write(f"Invoiced {period:%Y-%m} (run {run.pk}): {len(drafts)} approved.")
        return [
            demo.OpenInvoice(
                i.number, i.account.external_id, i.currency, i.total, i.invoice_date, i.due_date
            )
            for i in Invoice.objects.filter(status__in=list(Invoice.FINAL_STATUSES))
            .select_related("account")
            .order_by("invoice_date", "number")
        ]

    def _payments(self, invoices, seed, today, tmp: Path, user) -> None:
        from receivables.services import payment_import

        path = tmp / "payments.csv"
        count = demo.write_csv(
            path, demo.PAYMENT_COLUMNS, demo.payment_rows(invoices, seed=seed, as_of=today)
        )
        if not count:
            return
        result = payment_import(file=path, user=user)
        if result.errors:
            shown = "\n".join(str(e) for e in result.errors[:20])
            raise CommandError(f"demo payments were rejected:\n{shown}")
        self.stdout.write(f"Imported payments: {result.created} created.")
