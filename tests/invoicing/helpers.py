"""Snapshots to compare runs exactly, and approval as the tests call it; the firm they bill is
`tests.world.small_firm` (re-exported as `build_firm`)."""

from __future__ import annotations

from invoicing.models import EntryBilling, Invoice
from tests.world import FEB as FEB
from tests.world import JAN as JAN
from tests.world import D as D
from tests.world import minutes as minutes
from tests.world import small_firm

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


def approve(*, invoice: Invoice, user) -> Invoice:
    """Approve a draft at the version it has now, as a reviewer who just opened it would, and run
    what the approval queues after commit (the final PDF render), as the worker would."""
    from django.test import TestCase

    from invoicing import services

    current = Invoice.objects.get(pk=invoice.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = services.invoice_approve(invoice=current, user=user, version=current.version)
    done.refresh_from_db()
    return done
