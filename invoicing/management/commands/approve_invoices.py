"""`approve_invoices --user NAME (--period YYYY-MM | --id ID[@VERSION]...)` (SPEC 5).

Approves drafts as that user, in id order, each in its own transaction (the same service as the
review screen). Approval names the version reviewed (SPEC 3): `--id 12@3` approves draft 12 only
if it is still at version 3 (`version` in `export_invoices`); a bare id or `--period` names the
version the command read when it started, so a run or an adjustment that lands while it works is
refused, not approved unseen. Refusals are printed on stderr with the reason; exit 1 if any was
refused. Exit 2: unknown user, a user without the billing admin role, or a bad period or id.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from core.dates import parse_period
from core.errors import BillingError
from core.roles import has_capability
from invoicing.models import Invoice
from invoicing.services import invoice_approve


def _id_version(text: str) -> tuple[int, int | None]:
    pk, sep, version = text.partition("@")
    if not pk.isdigit() or (sep and not version.isdigit()):
        raise argparse.ArgumentTypeError(f"expected ID or ID@VERSION, got {text!r}")
    return int(pk), int(version) if sep else None


class Command(BaseCommand):
    help = "Approve draft invoices as a billing admin."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--user", required=True, help="username of the approving billing admin")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--period", help="every draft of this month (YYYY-MM)")
        which.add_argument(
            "--id",
            nargs="+",
            type=_id_version,
            dest="ids",
            metavar="ID[@VERSION]",
            help="invoice ids (as in export_invoices), each optionally with the version reviewed",
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
            wanted: dict[int, int | None] = dict.fromkeys(
                Invoice.objects.filter(period=period, status=Invoice.Status.DRAFT)
                .order_by("id")
                .values_list("id", flat=True)
            )
        else:
            wanted = dict(options["ids"])
        ids = list(wanted)
        found = {i.pk: i for i in Invoice.objects.filter(pk__in=ids)}
        approved, refused = [], []
        for pk in ids:
            invoice = found.get(pk)
            try:
                if invoice is None:
                    raise BillingError(f"no invoice with id {pk}")
                version = wanted[pk] or invoice.version
                done = invoice_approve(invoice=invoice, user=user, version=version)
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
            raise CommandError(
                f"{len(refused)} of {len(ids)} invoice{pluralize(len(ids))} refused", returncode=1
            )
