"""`make_customer(key, seq)`: a portal customer, with a contact, a disputed final invoice of two
lines (the first billing two entries), a credit note, a dispute with a customer and a staff-only
attachment, and a payment notice; two of them (ALPHA, BETA) are the portal tests' isolation
pair."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from receivables.models import DisputeMessage
from tests.factories import AccountFactory, AgreementFactory, EmployeeFactory, TimeEntryFactory
from tests.world.documents import (
    attach,
    credit_note,
    invoice_with_lines,
    open_dispute,
    payment_notice,
    portal_contact,
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
    employee = EmployeeFactory(external_id=f"E-{key}")
    entries = [
        TimeEntryFactory(
            external_id=f"{seq}{n}",
            employee=employee,
            project_code=f"PRJ-{key}",
            date=dt.date(2026, 1, day),
            duration_ms=3 * 3_600_000,
            notes=notes,
        )
        for n, (day, notes) in enumerate([(12, "Server patching"), (13, "Backup check")])
    ]
    hours = {"role": "Engineer", "rate": Decimal("100.00")}
    invoice = invoice_with_lines(
        account,
        [
            {
                "description": f"Support {key}",
                "minutes": 360,
                "hours": Decimal("6.00"),
                "amount": "600.00",
                "entries": entries,
                **hours,
            },
            {
                "description": f"Project {key}",
                "minutes": 240,
                "hours": Decimal("4.00"),
                "amount": "400.00",
                **hours,
            },
        ],
        agreement=agreement,
        seq=seq,
        pdf=PDF,
        disputed=True,
        dispute_reason=f"Question from {key}",
    )
    note = credit_note(invoice, f"CN-2026-{seq:05d}", PDF, amount=Decimal("100.00"))
    contact = portal_contact(account, f"ap@{key.lower()}.example")
    dispute, message = open_dispute(invoice, contact.email, f"Question from {key}")
    internal = DisputeMessage.objects.create(dispute=dispute, body="Staff only", internal=True)
    attachment, internal_attachment = (
        attach(m, b"x", f"{key}{m.pk}.txt") for m in (message, internal)
    )
    notice = payment_notice(contact, invoice, dt.date(2026, 2, 1), "900.00")
    line = invoice.lines.get(position=1)
    return Customer(
        account, contact, invoice, line, note, dispute, attachment, internal_attachment, notice
    )
