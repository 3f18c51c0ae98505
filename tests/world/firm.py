"""The billing firms: `small_firm()` (the invoicing tests' exact expected results are written
against it) and `many_groups()` (the reliability tests: restarts, concurrency)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from agreements.models import Account, Agreement, Milestone, RoleRate
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    FlagFactory,
    MilestoneFactory,
    RoleRateFactory,
    TimeEntryFactory,
)
from timesheets.models import Employee, Flag, TimeEntry

D = Decimal
JAN = dt.date(2026, 1, 1)
FEB = dt.date(2026, 2, 1)
PERIOD = JAN


def minutes(n: int) -> int:
    return n * 60_000


# --- small_firm ---------------------------------------------------------------------------------


def small_firm() -> dict:
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


# --- many_groups --------------------------------------------------------------------------------


def many_groups(groups: int = 12, entries_per_group: int = 6) -> None:
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
