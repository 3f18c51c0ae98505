"""Portal fixtures: two customers, each with a contact, a final invoice with lines and billed
entries, a credit note, a dispute with an attachment and a payment notice."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from invoicing.models import EntryBilling, Invoice
from portal import auth
from portal.models import Contact, PaymentNotice, PortalSession
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    CreditNoteFactory,
    EmployeeFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    TimeEntryFactory,
)

PDF = b"%PDF-1.4 portal test\n%%EOF\n"


@dataclass
class Customer:
    account: Any
    contact: Any
    invoice: Any
    line: Any
    credit_note: Any
    dispute: Any
    attachment: Any
    internal_attachment: Any
    notice: Any


def make_customer(key: str, seq: int) -> Customer:
    account = AccountFactory(external_id=f"ACC-{key}", name=f"Customer {key}")
    agreement = AgreementFactory(account=account, project_code=f"PRJ-{key}")
    invoice = InvoiceFactory(
        account=account,
        net=Decimal("1000.00"),
        total=Decimal("1000.00"),
        invoice_date=dt.date(2026, 1, 31),
        due_date=dt.date(2026, 3, 2),
    )
    line = InvoiceLineFactory(
        invoice=invoice,
        agreement=agreement,
        position=1,
        description=f"Support {key}",
        role="Engineer",
        minutes=360,
        hours=Decimal("6.00"),
        rate=Decimal("100.00"),
        amount=Decimal("600.00"),
    )
    InvoiceLineFactory(
        invoice=invoice,
        agreement=agreement,
        position=2,
        description=f"Project {key}",
        role="Engineer",
        minutes=240,
        hours=Decimal("4.00"),
        rate=Decimal("100.00"),
        amount=Decimal("400.00"),
    )
    employee = EmployeeFactory(external_id=f"E-{key}")
    for n, (day, notes) in enumerate([(12, "Server patching"), (13, "Backup check")]):
        entry = TimeEntryFactory(
            external_id=f"{seq}{n}",
            employee=employee,
            project_code=f"PRJ-{key}",
            date=dt.date(2026, 1, day),
            duration_ms=3 * 3_600_000,
            notes=notes,
        )
        EntryBilling.objects.create(
            entry=entry,
            agreement=agreement,
            invoice=invoice,
            line=line,
            period=dt.date(2026, 1, 1),
            rounded_minutes=180,
            billed_minutes=180,
        )
    number = f"INV-2026-{seq:05d}"
    path = default_storage.save(f"invoices/{number}.pdf", ContentFile(PDF))
    Invoice.objects.filter(pk=invoice.pk).update(
        status="approved",
        number=number,
        number_year=2026,
        number_seq=seq,
        pdf=path,
        pdf_sha256=hashlib.sha256(PDF).hexdigest(),
        disputed=True,
        dispute_reason=f"Question from {key}",
    )
    invoice.refresh_from_db()
    credit_note = CreditNoteFactory(
        invoice=invoice,
        number=f"CN-2026-{seq:05d}",
        number_seq=seq,
        amount=Decimal("100.00"),
        pdf=default_storage.save(f"credit_notes/CN-{seq}.pdf", ContentFile(PDF)),
    )
    contact = Contact.objects.create(
        account=account, email=f"ap@{key.lower()}.example", invited_at=timezone.now()
    )
    dispute = Dispute.objects.create(
        invoice=invoice,
        category="overbilling",
        sla_days=10,
        opened_at=timezone.now(),
        sla_due_at=timezone.now() + dt.timedelta(days=10),
        opened_by_customer=contact.email,
    )
    message = DisputeMessage.objects.create(
        dispute=dispute, body=f"Question from {key}", author_customer=contact.email
    )
    internal = DisputeMessage.objects.create(dispute=dispute, body="Staff only", internal=True)
    attachment, internal_attachment = (
        DisputeAttachment.objects.create(
            message=m,
            file=default_storage.save(f"dispute_attachments/{key}{m.pk}.txt", ContentFile(b"x")),
            original_name="note.txt",
            content_type="text/plain; charset=utf-8",
            size=1,
            sha256=hashlib.sha256(b"x").hexdigest(),
        )
        for m in (message, internal)
    )
    notice = PaymentNotice.objects.create(
        contact=contact,
        account=account,
        invoice=invoice,
        date=dt.date(2026, 2, 1),
        amount=Decimal("900.00"),
        currency="USD",
    )
    return Customer(
        account,
        contact,
        invoice,
        line,
        credit_note,
        dispute,
        attachment,
        internal_attachment,
        notice,
    )


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_SITE_URL = "http://portal.test"


@pytest.fixture(autouse=True)
def _signin_counts():
    """Each test starts with no sign-in requests counted (portal.throttle)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alpha(db) -> Customer:
    return make_customer("ALPHA", 1)


@pytest.fixture
def beta(db) -> Customer:
    return make_customer("BETA", 2)


def portal_client(contact, client: Client | None = None) -> Client:
    """A client holding a portal session for the contact (as signing in with a link gives)."""
    client = client or Client()
    token, token_digest = auth.new_token()
    PortalSession.objects.create(
        contact=contact,
        token_sha256=token_digest,
        created_at=timezone.now(),
        expires_at=timezone.now() + dt.timedelta(hours=12),
    )
    client.cookies["billable_portal"] = token
    return client
