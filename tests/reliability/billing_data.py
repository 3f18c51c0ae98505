"""Small billing datasets and invariant checks shared by the reliability tests.

`build_firm(groups)` creates `groups` billing groups (one account each) with a T&M agreement and
entries, plus one Prepaid Hours and one Fixed Fee agreement, all for January 2026. The run of
period 2026-01 bills them. `invoice_state()` is a canonical, comparable picture of everything
invoicing wrote; `half_built()` lists the broken invariants of a partly written run (an invoice
whose totals do not match its lines, a line whose minutes are not its entries', an empty invoice,
an entry billed twice).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from django.db.models import Sum

from agreements.models import Account, Agreement, Milestone, RoleRate
from invoicing.models import (
    BlockBilling,
    EntryBilling,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MilestoneBilling,
)
from timesheets.models import Employee, TimeEntry

PERIOD = dt.date(2026, 1, 1)


def build_firm(groups: int = 12, entries_per_group: int = 6) -> None:
    employees = [
        Employee.objects.create(external_id=f"REL-E{i}", name=f"Employee {i}") for i in range(4)
    ]
    entries = []
    n = 0
    for g in range(groups):
        account = Account.objects.create(
            external_id=f"REL-A{g:03d}",
            name=f"Reliable {g:03d} Ltd",
            billing_email=f"ap{g}@rel.example",
        )
        agreement = Agreement.objects.create(
            external_id=f"REL-T{g:03d}",
            account=account,
            project_code=f"REL-TM-{g:03d}",
            agreement_type=Agreement.Type.TIME_AND_MATERIALS,
            stage=Agreement.Stage.SIGNED,
            start_date=dt.date(2025, 12, 1),
            hourly_rate=Decimal("150.00"),
            billing_increment=15,
            currency="USD" if g % 3 else "EUR",
            payment_terms=30,
            po_number=f"PO-{g}" if g % 2 else "",
            tax_rate=Decimal("8.875") if g % 4 == 0 else Decimal("0"),
        )
        RoleRate.objects.create(
            agreement=agreement, role="Engineer", role_key="engineer", rate=Decimal("175.00")
        )
        for e in range(entries_per_group):
            n += 1
            entries.append(
                TimeEntry(
                    external_id=str(700000 + n),
                    external_number=Decimal(700000 + n),
                    date=dt.date(2026, 1, 1 + (n % 28)),
                    employee=employees[n % 4],
                    role="Engineer" if e % 2 else "Analyst",
                    project_code=agreement.project_code,
                    duration_ms=(7 + (n * 13) % 50) * 60_000 + (n % 7) * 1000,
                    billable=True,
                    approved=True,
                    notes=f"work {n}",
                )
            )
    account = Account.objects.create(
        external_id="REL-APRE", name="Prepaid Co", billing_email="p@rel.example"
    )
    Agreement.objects.create(
        external_id="REL-PRE",
        account=account,
        project_code="REL-PRE",
        agreement_type=Agreement.Type.PREPAID_HOURS,
        stage=Agreement.Stage.SIGNED,
        start_date=dt.date(2026, 1, 1),
        hours_sold=Decimal("3"),
        amount=Decimal("450.00"),
        hourly_rate=Decimal("160.00"),
        billing_increment=6,
    )
    for e in range(8):
        n += 1
        entries.append(
            TimeEntry(
                external_id=str(700000 + n),
                external_number=Decimal(700000 + n),
                date=dt.date(2026, 1, 2 + e),
                employee=employees[e % 4],
                role="",
                project_code="REL-PRE",
                duration_ms=50 * 60_000,
                billable=True,
                approved=True,
            )
        )
    fixed = Agreement.objects.create(
        external_id="REL-FIX",
        account=account,
        project_code="REL-FIX",
        agreement_type=Agreement.Type.FIXED_FEE,
        stage=Agreement.Stage.SIGNED,
        start_date=dt.date(2026, 1, 1),
        amount=Decimal("10000.00"),
        hourly_rate=None,
    )
    Milestone.objects.create(
        agreement=fixed,
        position=1,
        name="Kickoff",
        percent=Decimal("33.333"),
        due_date=dt.date(2026, 1, 10),
    )
    Milestone.objects.create(
        agreement=fixed,
        position=2,
        name="Design",
        percent=Decimal("33.333"),
        due_date=dt.date(2026, 1, 20),
    )
    Milestone.objects.create(
        agreement=fixed,
        position=3,
        name="Go-live",
        percent=Decimal("33.334"),
        due_date=dt.date(2026, 3, 1),
    )
    TimeEntry.objects.bulk_create(entries)


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
