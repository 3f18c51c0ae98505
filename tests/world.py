"""The one world builder of the tests (issue 13): every named dataset a test suite starts from.

- `small_firm()`: three billing groups for January 2026 with every SPEC 3 rule in it (T&M with a
  rate card, a Prepaid Hours child, a Fixed Fee child with milestones, a second PO, a EUR account,
  a Draft-stage agreement, and entries that must not be billed); the invoicing tests' exact
  expected results are written against it.
- `many_groups(groups, entries_per_group)`: `groups` accounts of one T&M agreement each, plus one
  Prepaid Hours and one Fixed Fee agreement, for the reliability tests (restarts, concurrency).
- `make_world()`: one of everything the API and the portal show (a draft, an approved and a
  disputed invoice, a credit note, a payment and allocation, runs, a reminder, a dispute with an
  attachment, a portal contact and notice), for the permission matrix and the schema tests.
- `final_invoice(account, total)` and `invoice_with_lines(account, amounts)`: numbered final
  invoices without the invoice generator (receivables, portal, records and screen tests).

`tests/invoicing/helpers.py`, `tests/reliability/billing_data.py` and `tests/api/conftest.py`
import their builders from here and keep only their assertions and fixtures.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from agreements.models import Account, Agreement, Milestone, RoleRate
from core.models import ImportJob
from invoicing.models import ApprovalJob, EntryBilling, Invoice, InvoiceRun
from portal.models import Contact, PaymentNotice
from receivables.models import Dispute, DisputeAttachment, DisputeMessage, Reminder
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    AllocationFactory,
    CreditNoteFactory,
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
from timesheets.models import Employee, Flag, ReconciliationRun, TimeEntry

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


# --- make_world ---------------------------------------------------------------------------------


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


_invoice_seq = {"n": 0}


def next_invoice_seq() -> int:
    """The next invoice number of this test process (INV-<year>-NNNNN, never reused)."""
    _invoice_seq["n"] += 1
    return _invoice_seq["n"]


def final_invoice(
    account,
    total="1000.00",
    due=dt.date(2026, 3, 2),
    *,
    invoice_date=None,
    currency="USD",
    status="approved",
    seq=None,
    pdf=False,
    **kwargs,
) -> Invoice:
    """A final invoice without lines, numbered INV-2026-NNNNN, for the receivables tests; `pdf`
    stores a stub final PDF (a reminder is held without one)."""
    seq = seq or next_invoice_seq()
    amount = Decimal(total)
    if pdf:
        data = f"%PDF-1.4 test invoice INV-2026-{seq:05d}".encode()
        kwargs["pdf"] = default_storage.save(f"invoices/INV-2026-{seq:05d}.pdf", ContentFile(data))
        kwargs["pdf_sha256"] = hashlib.sha256(data).hexdigest()
    return InvoiceFactory(
        account=account,
        currency=currency,
        status=status,
        number=f"INV-2026-{seq:05d}",
        number_year=2026,
        number_seq=seq,
        net=amount,
        tax=Decimal("0.00"),
        total=amount,
        due_date=due,
        invoice_date=invoice_date or (due - dt.timedelta(days=30)),
        **kwargs,
    )


def invoice_with_lines(
    account,
    amounts,
    *,
    due=dt.date(2026, 3, 2),
    seq=None,
    year=2026,
    status="approved",
    agreement=None,
    pdf=False,
    disputed=False,
    dispute_reason="",
    **fields,
) -> Invoice:
    """A final invoice (approved unless `status`) with one time line per amount, built as
    approval does it: lines on the draft, then one UPDATE (the database refuses lines added to a
    final invoice). Numbered INV-<year>-NNNNN; `pdf` stores a stub final PDF with its checksum."""
    values = [Decimal(a) for a in amounts]
    total = sum(values, Decimal("0.00"))
    seq = seq or next_invoice_seq()
    number = f"INV-{year}-{seq:05d}"
    fields.setdefault("invoice_date", due - dt.timedelta(days=30))
    invoice = InvoiceFactory(
        account=account, net=total, tax=Decimal("0.00"), total=total, due_date=due, **fields
    )
    for position, amount in enumerate(values, start=1):
        InvoiceLineFactory(
            invoice=invoice,
            agreement=agreement,
            position=position,
            description=f"Consulting {position}",
            role="Engineer",
            amount=amount,
        )
    final: dict[str, Any] = dict(
        status=status,
        number=number,
        number_year=year,
        number_seq=seq,
        disputed=disputed,
        dispute_reason=dispute_reason,
    )
    if pdf:
        data = b"%PDF-1.4 test invoice " + number.encode()
        final["pdf"] = default_storage.save(f"invoices/{number}.pdf", ContentFile(data))
        final["pdf_sha256"] = hashlib.sha256(data).hexdigest()
    Invoice.objects.filter(pk=invoice.pk).update(**final)
    invoice.refresh_from_db()
    return invoice


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
    EntryBilling.objects.create(
        entry=entry,
        agreement=agreement,
        invoice=draft,
        line=draft_line,
        period=dt.date(2026, 1, 1),
        rounded_minutes=60,
        billed_minutes=60,
    )
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
    credit_note = CreditNoteFactory(
        invoice=approved,
        number="CN-2025-00001",
        number_year=2025,
        number_seq=1,
        date=dt.date(2025, 12, 31),
        amount=Decimal("100.00"),
        pdf=default_storage.save("credit_notes/CN-2025-00001.pdf", ContentFile(b"%PDF-1.4 cn")),
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
    dispute = Dispute.objects.create(
        invoice=disputed,
        category="overbilling",
        sla_days=10,
        opened_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        sla_due_at=dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC),
        opened_by_customer="ap@acc-1.example",
    )
    message = DisputeMessage.objects.create(
        dispute=dispute, body="Hours questioned", author_customer="ap@acc-1.example"
    )
    content = b"Entry 1001 was not worked.\n"
    dispute_attachment = DisputeAttachment.objects.create(
        message=message,
        file=default_storage.save("dispute_attachments/world.txt", ContentFile(content)),
        original_name="note.txt",
        content_type="text/plain; charset=utf-8",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    contact = Contact.objects.create(
        account=account, email="ap@acc-1.example", invited_at=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    )
    notice = PaymentNotice.objects.create(
        contact=contact,
        account=account,
        invoice=approved,
        date=dt.date(2026, 1, 25),
        amount=Decimal("600.00"),
        currency="USD",
    )
    import_job = ImportJob.objects.create(kind="time_entries", file_name="entries.csv", runner="x")
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
        credit_note=credit_note,
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
