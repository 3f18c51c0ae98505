"""Fixtures for the API tests: token clients per persona and a small world of one of everything."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agreements.models import Agreement
from invoicing.models import EntryBilling, Invoice, InvoiceRun
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
)
from timesheets.models import Flag, ReconciliationRun

PERSONAS = ("billing_admin", "services_manager", "finance", "auditor", "outsider", "anonymous")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The matrix creates a persona per case: a fast hasher keeps ~400 cases quick. (Passwords
    are still checked: the token endpoint tests log in with them.)"""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Login-failure counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def token_client(user: Any | None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api_for():
    """api_for(user) -> an APIClient sending that user's token (None: anonymous)."""
    return token_client


@pytest.fixture
def persona_user(request):
    """persona_user(name) -> the user of that persona fixture, or None for 'anonymous'."""

    def get(name: str) -> Any | None:
        return None if name == "anonymous" else request.getfixturevalue(name)

    return get


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
    milestone: Any = None  # undated, on a Fixed Fee agreement of the same account


def _final_invoice(*, account, agreement, number, seq, total, **fields) -> Invoice:
    """An approved invoice built as approval does it: lines on the draft, then one UPDATE (the
    database refuses lines added to a final invoice)."""
    invoice = InvoiceFactory(
        account=account,
        number=number,
        number_year=2025,
        number_seq=seq,
        net=total,
        total=total,
        **{k: v for k, v in fields.items() if k not in {"disputed", "dispute_reason"}},
    )
    InvoiceLineFactory(invoice=invoice, agreement=agreement, amount=total)
    pdf = b"%PDF-1.4 test invoice " + number.encode()
    path = default_storage.save(f"invoices/{number}.pdf", ContentFile(pdf))
    Invoice.objects.filter(pk=invoice.pk).update(
        status=Invoice.Status.APPROVED,
        pdf=path,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        disputed=fields.get("disputed", False),
        dispute_reason=fields.get("dispute_reason", ""),
    )
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
    approved = _final_invoice(
        account=account,
        agreement=agreement,
        period=dt.date(2025, 12, 1),
        invoice_date=dt.date(2025, 12, 31),
        due_date=dt.date(2026, 1, 30),
        number="INV-2025-00001",
        seq=1,
        total=Decimal("1000.00"),
    )
    disputed = _final_invoice(
        account=account,
        agreement=agreement,
        period=dt.date(2025, 11, 1),
        invoice_date=dt.date(2025, 11, 30),
        due_date=dt.date(2025, 12, 30),
        number="INV-2025-00002",
        seq=2,
        total=Decimal("500.00"),
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
    )


@pytest.fixture
def world(db) -> World:
    return make_world()
