"""export_einvoice (--id ID | --credit-note ID) --format ubl|cii|facturx --output FILE (SPEC 3.2, 5).

ID is the invoice's id as `export_invoices` prints it (or its number, INV-YYYY-NNNNN); a credit
note is given by its id or number (CN-YYYY-NNNNN). Exit 1 when the invoice is not approved or
has no such e-invoice, 2 on usage errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import BillingError
from invoicing.einvoice import FORMATS, einvoice_file
from invoicing.models import CreditNote, Invoice


def _find(model: Any, key: str) -> Any:
    lookup = {"pk": int(key)} if key.isdigit() else {"number": key}
    try:
        return model.objects.select_related().get(**lookup)
    except model.DoesNotExist:
        label = "invoice" if model is Invoice else "credit note"
        raise CommandError(f"no {label} {key}", returncode=1) from None


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Write an approved invoice's or a credit note's EN 16931 e-invoice to a file."

    def add_arguments(self, parser: Any) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--id", help="invoice id (as in export_invoices) or number")
        which.add_argument("--credit-note", help="credit note id or number")
        parser.add_argument("--format", choices=FORMATS, required=True)
        parser.add_argument("--output", required=True, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("credit_note"):
            subject = _find(CreditNote, options["credit_note"].strip())
        else:
            subject = _find(Invoice, options["id"].strip())
        try:
            file = einvoice_file(subject, options["format"])
        except BillingError as exc:
            raise CommandError(str(exc), returncode=1) from None
        path = Path(options["output"])
        try:
            path.write_bytes(file.content)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror}", returncode=2) from None
        self.stderr.write(f"{file.filename}: {len(file.content)} bytes written to {path}")
