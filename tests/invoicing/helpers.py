"""Snapshots to compare runs exactly, and the official EN 16931 validator; the firm the
invoicing tests bill is `tests.world.small_firm` (re-exported as `build_firm`), approval as the
tests call it is `tests.world.approve`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings

from invoicing.models import EntryBilling, Invoice
from tests.world import FEB as FEB
from tests.world import JAN as JAN
from tests.world import D as D
from tests.world import approve as approve
from tests.world import minutes as minutes
from tests.world import small_firm

# The official EN 16931 validator, beside the repository (CI has shared/ next to the clone).
VALIDATOR = Path(settings.BASE_DIR).parent / "shared" / "validators" / "en16931_validate.py"

build_firm = small_firm  # the name the invoicing tests call it by


def snapshot() -> list:
    """Every invoice with its lines and claims, without database ids: equal snapshots mean equal
    billing."""
    result = []
    for inv in Invoice.objects.order_by(
        "account__external_id", "currency", "po_number", "period", "status"
    ):
        lines = [
            (
                x.agreement.external_id if x.agreement else None,
                x.kind,
                x.position,
                x.description,
                x.role,
                x.minutes,
                x.hours,
                x.rate,
                x.amount,
                x.tax_rate,
            )
            for x in inv.lines.select_related("agreement").order_by("position", "id")
        ]
        result.append(
            (
                inv.account.external_id,
                inv.currency,
                inv.po_number,
                inv.period,
                inv.status,
                inv.invoice_date,
                inv.due_date,
                inv.net,
                inv.tax,
                inv.total,
                lines,
            )
        )
    claims = sorted(
        (
            eb.entry.external_id,
            eb.agreement.external_id,
            eb.invoice.po_number if eb.invoice else None,
            eb.rounded_minutes,
            eb.block_minutes,
            eb.billed_minutes,
            (eb.line.kind, eb.line.role) if eb.line else None,
        )
        for eb in EntryBilling.objects.select_related("entry", "agreement", "invoice", "line")
    )
    return [result, claims]


def line_rows(invoice: Invoice) -> list:
    return [
        (
            x.agreement.external_id if x.agreement else None,
            x.kind,
            x.role,
            x.minutes,
            x.hours,
            x.rate,
            x.amount,
            x.tax_rate,
        )
        for x in invoice.lines.select_related("agreement").order_by("position", "id")
    ]


def validate(paths: list[Path]) -> subprocess.CompletedProcess:
    """Run the official EN 16931 rules over `paths` (one process: the stylesheets compile once)."""
    return subprocess.run(
        [sys.executable, str(VALIDATOR), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
