"""`make_world()`: one of everything the API and the portal show (a draft, an approved and a
disputed invoice, a credit note, a payment and allocation, runs, a reminder, a dispute with an
attachment, a portal contact and notice), for the permission matrix and the schema tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agreements.models import Agreement
from core import roles
from core.mail import mail_templates_approve_builtin
from core.models import ImportJob
from invoicing.models import ApprovalJob, InvoiceRun
from receivables.models import Reminder
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    AllocationFactory,
    EmployeeFactory,
    FlagFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    MilestoneFactory,
    PaymentFactory,
    RoleRateFactory,
    TimeEntryFactory,
    UserFactory,
)
from tests.world.documents import (
    attach,
    bill_entries,
    credit_note,
    invoice_with_lines,
    open_dispute,
    payment_notice,
    portal_contact,
)
from timesheets.models import Flag, ReconciliationRun


@dataclass
class World:
    account: Any
    agreement: Any
    employee: Any
    entry: Any
    other_entry: Any
    over_cap_flag: Any
    draft: Any
    draft_line: Any
    approved: Any
    disputed: Any
    credit_note: Any
    payment: Any
    allocation: Any
    invoice_run: Any
    reconciliation_run: Any
    reminder: Any
    dispute: Any
    dispute_attachment: Any
    contact: Any
    notice: Any
    import_job: Any
    approval_job: Any
    milestone: Any = None  # undated, on a Fixed Fee agreement of the same account


def make_world() -> World:
    account = AccountFactory(external_id="ACC-1", name="Acme Corp")
    agreement = AgreementFactory(
        external_id="AGR-1", account=account, project_code="ACME", hourly_rate=Decimal("150.00")
    )
    RoleRateFactory(
        agreement=agreement, role="Engineer", role_key="engineer", rate=Decimal("175.00")
    )
    employee = EmployeeFactory(external_id="E1", name="Erin Engineer")
    entry = TimeEntryFactory(
        external_id="1001", employee=employee, project_code="ACME", date=dt.date(2026, 1, 15)
    )
    other_entry = TimeEntryFactory(
        external_id="1002", employee=employee, project_code="ACME", date=dt.date(2026, 1, 16)
    )
    over_cap_flag = FlagFactory(
        code=Flag.Code.OVER_CAP,
        entry=other_entry,
        subject="1002",
        agreement=agreement,
        detail="Running total 41.00 h passes the 40.00 h cap of AGR-1.",
    )
    draft = InvoiceFactory(
        account=account,
        period=dt.date(2026, 1, 1),
        invoice_date=dt.date(2026, 1, 31),
        due_date=dt.date(2026, 3, 2),
        net=Decimal("175.00"),
        total=Decimal("175.00"),
    )
    draft_line = InvoiceLineFactory(
        invoice=draft,
        agreement=agreement,
        description="Engineer",
        role="Engineer",
        minutes=60,
        hours=Decimal("1.00"),
        rate=Decimal("175.00"),
        amount=Decimal("175.00"),
        position=1,
    )
    bill_entries(draft_line, [entry], minutes=60)
    approved = invoice_with_lines(
        account,
        ["1000.00"],
        agreement=agreement,
        period=dt.date(2025, 12, 1),
        invoice_date=dt.date(2025, 12, 31),
        due=dt.date(2026, 1, 30),
        year=2025,
        seq=1,
        pdf=True,
    )
    disputed = invoice_with_lines(
        account,
        ["500.00"],
        agreement=agreement,
        period=dt.date(2025, 11, 1),
        invoice_date=dt.date(2025, 11, 30),
        due=dt.date(2025, 12, 30),
        year=2025,
        seq=2,
        pdf=True,
        disputed=True,
        dispute_reason="Hours questioned",
    )
    cn = credit_note(
        approved,
        "CN-2025-00001",
        b"%PDF-1.4 cn",
        date=dt.date(2025, 12, 31),
        amount=Decimal("100.00"),
    )
    payment = PaymentFactory(
        external_id="PAY-1", account=account, date=dt.date(2026, 1, 20), amount=Decimal("600.00")
    )
    allocation = AllocationFactory(
        payment=payment, invoice=approved, amount=Decimal("300.00"), date=dt.date(2026, 1, 20)
    )
    invoice_run = InvoiceRun.objects.create(period=dt.date(2025, 12, 1), status="done")
    reconciliation_run = ReconciliationRun.objects.create(as_of=dt.date(2026, 1, 31), status="done")
    reminder = Reminder.objects.create(
        invoice=disputed, level=7, sent_on=dt.date(2026, 1, 6), sent_to="ap@acc-1.example"
    )
    dispute, message = open_dispute(
        disputed,
        "ap@acc-1.example",
        "Hours questioned",
        opened_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
    )
    dispute_attachment = attach(message, b"Entry 1001 was not worked.\n", "world.txt")
    contact = portal_contact(
        account, "ap@acc-1.example", invited_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    )
    notice = payment_notice(contact, approved, dt.date(2026, 1, 25), "600.00")
    import_job = ImportJob.objects.create(kind="time_entries", file_name="entries.csv", runner="x")
    # Every mail template approved, as a billing admin does on the Mail templates page: the
    # API's send and the portal's invitation and sign-in mail need it.
    mail_templates_approve_builtin(
        user=UserFactory(username="tess.templates", roles=[roles.BILLING_ADMIN])
    )
    approval_job = ApprovalJob.objects.create(
        period=dt.date(2025, 12, 1), status="done", started_by=UserFactory(username="approver")
    )
    assert agreement.stage == Agreement.Stage.SIGNED
    milestone = MilestoneFactory(
        agreement__account=account,
        agreement__external_id="AGR-FF",
        agreement__project_code="FIXED",
        position=1,
        name="Go-live",
        due_date=None,
    )
    return World(
        milestone=milestone,
        account=account,
        agreement=agreement,
        employee=employee,
        entry=entry,
        other_entry=other_entry,
        over_cap_flag=over_cap_flag,
        draft=draft,
        draft_line=draft_line,
        approved=approved,
        disputed=disputed,
        credit_note=cn,
        payment=payment,
        allocation=allocation,
        invoice_run=invoice_run,
        reconciliation_run=reconciliation_run,
        reminder=reminder,
        dispute=dispute,
        dispute_attachment=dispute_attachment,
        contact=contact,
        notice=notice,
        import_job=import_job,
        approval_job=approval_job,
    )
