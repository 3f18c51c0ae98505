"""A small firm with every SPEC 3 rule in it, and snapshots to compare runs exactly."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from agreements.models import Agreement
from invoicing.models import EntryBilling, Invoice
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    FlagFactory,
    MilestoneFactory,
    RoleRateFactory,
    TimeEntryFactory,
)
from timesheets.models import Flag

D = Decimal
JAN = dt.date(2026, 1, 1)
FEB = dt.date(2026, 2, 1)


def minutes(n: int) -> int:
    return n * 60_000


def build_firm() -> dict:
    """Three billing groups for January 2026 (expected results in the tests)."""
    acme = AccountFactory(external_id="ACC-A", name="Acme Corp", billing_email="ap@acme.example")
    bolt = AccountFactory(
        external_id="ACC-B", name="Bolt GmbH", billing_email="rechnung@bolt.example"
    )
    ann = EmployeeFactory(external_id="E1", name="Ann Archer")
    ben = EmployeeFactory(external_id="E2", name="Ben Baker")

    parent = AgreementFactory(
        external_id="AGR-100",
        account=acme,
        project_code="P100",
        po_number="PO-1",
        hourly_rate=D("150.00"),
        tax_rate=D("10"),
        payment_terms=30,
    )
    RoleRateFactory(agreement=parent, role="Engineer", rate=D("175.00"))
    prepaid = AgreementFactory(
        external_id="AGR-101",
        account=acme,
        parent=parent,
        project_code="P101",
        po_number="CHILD-PO",  # ignored: the root's PO groups the invoice
        agreement_type=Agreement.Type.PREPAID_HOURS,
        hours_sold=D("2"),
        amount=D("250.00"),
        hourly_rate=D("100.00"),
        tax_rate=D("10"),
        payment_terms=15,
    )
    fixed = AgreementFactory(
        external_id="AGR-102",
        account=acme,
        parent=parent,
        project_code="P102",
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=D("9999.99"),
        hourly_rate=None,
        tax_rate=D("0"),
    )
    m1 = MilestoneFactory(
        agreement=fixed, position=1, name="Kick-off", percent=D("33"), due_date=dt.date(2026, 1, 20)
    )
    m2 = MilestoneFactory(
        agreement=fixed, position=2, name="Build", percent=D("33"), due_date=dt.date(2026, 2, 20)
    )
    m3 = MilestoneFactory(
        agreement=fixed, position=3, name="Go-live", percent=D("34"), due_date=None
    )
    other_po = AgreementFactory(
        external_id="AGR-200",
        account=acme,
        project_code="P200",
        po_number="PO-2",
        hourly_rate=D("100.00"),
        start_date=dt.date(2026, 1, 10),
    )
    euro = AgreementFactory(
        external_id="AGR-300",
        account=bolt,
        project_code="P300",
        currency="EUR",
        hourly_rate=D("80.00"),
        billing_increment=6,
    )
    draft_stage = AgreementFactory(
        external_id="AGR-400", account=bolt, project_code="P400", stage=Agreement.Stage.DRAFT
    )

    def e(ext, code, day, mins, role="Engineer", emp=ann, **kw):
        return TimeEntryFactory(
            external_id=ext,
            project_code=code,
            date=dt.date(2026, 1, day),
            duration_ms=minutes(mins),
            role=role,
            employee=emp,
            **kw,
        )

    entries = {
        "1": e("1", "P100", 5, 60),
        "2": e("2", "P100", 6, 50, role="engineer"),
        "3": e("3", "P100", 7, 20, role="Designer", emp=ben, notes="Wireframes"),
        "4": e("4", "P101", 10, 90),
        "5": e("5", "P101", 11, 60),
        "6": e("6", "P200", 15, 45),
        "7": e("7", "P300", 20, 61),
        "12": e("12", "P100", 8, 15),  # released OVER_CAP: billed
        # never billed in January:
        "8": e("8", "P100", 9, 60, approved=False),
        "9": e("9", "P100", 9, 60, billable=False),
        "10": TimeEntryFactory(
            external_id="10", project_code="P100", date=FEB, duration_ms=minutes(60)
        ),
        "11": e("11", "P100", 9, 30),  # open DUPLICATE_ENTRY
        "13": e("13", "P100", 9, 30),  # written-off MISSING_RATE
        "14": e("14", "NOPE", 9, 30),
        "15": e("15", "P400", 9, 30),  # Draft-stage agreement
        "16": e("16", "P102", 9, 30),  # Fixed Fee: not billed by time
        "17": e("17", "P200", 5, 30),  # before AGR-200 starts
    }
    FlagFactory(
        code=Flag.Code.OVER_CAP,
        entry=entries["12"],
        status=Flag.Status.RELEASED,
        reason="Customer OK",
    )
    FlagFactory(code=Flag.Code.DUPLICATE_ENTRY, entry=entries["11"])
    FlagFactory(
        code=Flag.Code.MISSING_RATE,
        entry=entries["13"],
        status=Flag.Status.WRITTEN_OFF,
        reason="Goodwill",
    )
    return {
        "acme": acme,
        "bolt": bolt,
        "parent": parent,
        "prepaid": prepaid,
        "fixed": fixed,
        "other_po": other_po,
        "euro": euro,
        "draft_stage": draft_stage,
        "entries": entries,
        "milestones": (m1, m2, m3),
        "ann": ann,
        "ben": ben,
    }


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
