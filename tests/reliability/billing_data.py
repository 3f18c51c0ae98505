"""Small billing datasets and invariant checks shared by the reliability tests.

`build_firm(groups)` (`tests.world.many_groups`) creates `groups` billing groups (one account each) with a T&M agreement and
entries, plus one Prepaid Hours and one Fixed Fee agreement, all for January 2026. The run of
period 2026-01 bills them. `invoice_state()` is a canonical, comparable picture of everything
invoicing wrote; `half_built()` lists the broken invariants of a partly written run (an invoice
whose totals do not match its lines, a line whose minutes are not its entries', an empty invoice,
an entry billed twice).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Sum

from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MilestoneBilling,
)
from tests.world import PERIOD as PERIOD
from tests.world import many_groups

build_firm = many_groups  # the name the reliability tests call it by


def reset_invoicing() -> None:
    """Forget every draft and run (drafts only: approved invoices are frozen by triggers)."""
    EntryBilling.objects.all().delete()
    MilestoneBilling.objects.all().delete()
    BlockBilling.objects.all().delete()
    InvoiceLine.objects.all().delete()
    Invoice.objects.all().delete()
    InvoiceRun.objects.all().delete()


def invoice_state() -> dict:
    """Everything a run decides, keyed by business identity (never by database id)."""
    invoices = {}
    for inv in Invoice.objects.select_related("account").order_by("id"):
        key = (
            inv.account.external_id,
            inv.currency,
            inv.po_number,
            inv.period.isoformat(),
            inv.status,
        )
        lines = sorted(
            (
                ln.agreement.external_id if ln.agreement else "",
                ln.kind,
                ln.position,
                ln.description,
                ln.role,
                ln.minutes,
                str(ln.hours),
                str(ln.rate),
                str(ln.amount),
                str(ln.tax_rate),
            )
            for ln in inv.lines.select_related("agreement")
        )
        entry_ids = sorted(
            EntryBilling.objects.filter(invoice=inv).values_list(
                "entry__external_id", "billed_minutes", "block_minutes"
            )
        )
        assert key not in invoices, f"two invoices for one group: {key}"
        invoices[key] = {
            "net": str(inv.net),
            "tax": str(inv.tax),
            "total": str(inv.total),
            "invoice_date": inv.invoice_date.isoformat(),
            "due_date": inv.due_date.isoformat(),
            "lines": lines,
            "entries": entry_ids,
        }
    return {
        "invoices": invoices,
        "block_only_entries": sorted(
            EntryBilling.objects.filter(invoice__isnull=True).values_list(
                "entry__external_id", "block_minutes"
            )
        ),
        "milestones": sorted(
            MilestoneBilling.objects.values_list(
                "milestone__agreement__external_id", "milestone__position"
            )
        ),
        "blocks": sorted(BlockBilling.objects.values_list("agreement__external_id", flat=True)),
    }


def half_built() -> list[str]:
    """Broken invariants of whatever invoicing has written so far (empty list = consistent)."""
    problems = []
    for inv in Invoice.objects.exclude(status="rejected"):
        lines = list(inv.lines.all())
        if not lines:
            problems.append(f"invoice #{inv.pk} has no lines")
            continue
        net = sum((ln.amount for ln in lines), Decimal("0.00"))
        if net != inv.net:
            problems.append(f"invoice #{inv.pk}: net {inv.net} but lines sum to {net}")
        if inv.total != inv.net + inv.tax:
            problems.append(f"invoice #{inv.pk}: total {inv.total} != net + tax")
        for line in lines:
            if line.kind == InvoiceLine.Kind.TIME:
                billed = line.entry_billings.aggregate(m=Sum("billed_minutes"))["m"] or 0
                if billed != line.minutes:
                    problems.append(
                        f"line #{line.pk}: {line.minutes} min but its entries bill {billed}"
                    )
    for eb in EntryBilling.objects.exclude(line=None).select_related("line"):
        if eb.line.invoice_id != eb.invoice_id:
            problems.append(f"entry billing #{eb.pk}: line on another invoice")
    counts = Counter(EntryBilling.objects.values_list("entry_id", flat=True))
    problems += [f"entry {e} billed {c} times" for e, c in counts.items() if c > 1]
    return problems
