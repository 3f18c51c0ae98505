"""`approve_invoices --user NAME (--period YYYY-MM | --id ID...)` (SPEC 5).

Approves drafts as that user, in id order, each in its own transaction (the same service as the
review screen). Refusals are printed on stderr with the reason; exit 1 if any was refused.
Exit 2: unknown user, a user without the billing admin role, or a bad period.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core.dates import parse_period
from core.errors import BillingError
from core.roles import has_capability
from invoicing.models import Invoice
from invoicing.services import invoice_approve


class Command(BaseCommand):
    help = "Approve draft invoices as a billing admin."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="username of the approving billing admin")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--period", help="every draft of this month (YYYY-MM)")
        which.add_argument(
            "--id",
            nargs="+",
            type=int,
            dest="ids",
            metavar="ID",
            help="invoice ids (as in export_invoices)",
        )
        parser.add_argument("--json", action="store_true", help="print a JSON summary")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"unknown user {options['user']!r}", returncode=2)
        if not has_capability(user, "invoices.manage"):
            raise CommandError(f"user {user.username!r} is not a billing admin", returncode=2)
        if options["period"]:
            try:
                period = parse_period(options["period"])
            except ValueError as exc:
                raise CommandError(str(exc), returncode=2) from exc
            ids = list(
                Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT)
                .order_by("id")
                .values_list("id", flat=True)
            )
        else:
            ids = list(dict.fromkeys(options["ids"]))
        found = {i.pk: i for i in Invoice.objects.filter(pk__in=ids)}
        approved, refused = [], []
        for pk in ids:
            invoice = found.get(pk)
            try:
                if invoice is None:
                    raise BillingError(f"no invoice with id {pk}")
                done = invoice_approve(invoice=invoice, user=user)
            except BillingError as exc:
                refused.append({"id": pk, "reason": str(exc)})
                self.stderr.write(f"invoice {pk}: {exc}")
            else:
                approved.append({"id": pk, "number": done.number})
                if not options["json"]:
                    self.stdout.write(f"invoice {pk}: approved as {done.number}")
        if options["json"]:
            self.stdout.write(json.dumps({"approved": approved, "refused": refused}))
        elif not ids:
            self.stdout.write("No drafts to approve.")
        if refused:
            raise CommandError(f"{len(refused)} of {len(ids)} invoices refused", returncode=1)
