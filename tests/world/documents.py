"""The pieces every world is made of: numbered final invoices without the invoice generator,
billed entries behind a line, credit notes, disputes with attachments, portal contacts, payment
notices and portal sessions, and approval as the tests call it."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceLine
from portal import auth
from portal.models import Contact, PaymentNotice, PortalSession
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from tests.factories import CreditNoteFactory, InvoiceFactory, InvoiceLineFactory

_invoice_seq = {"n": 0}


def next_invoice_seq() -> int:
    """The next invoice number of this test process (INV-<year>-NNNNN, never reused)."""
    _invoice_seq["n"] += 1
    return _invoice_seq["n"]


def _stored_pdf(folder: str, number: str, pdf: bool | bytes) -> dict[str, str]:
    """A stub final PDF saved as `<folder>/<number>.pdf` with its checksum (`pdf=True`: a stub
    naming the number; bytes: those bytes)."""
    data = pdf if isinstance(pdf, bytes) else f"%PDF-1.4 test invoice {number}".encode()
    path = default_storage.save(f"{folder}/{number}.pdf", ContentFile(data))
    return {"pdf": path, "pdf_sha256": hashlib.sha256(data).hexdigest()}


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
        kwargs.update(_stored_pdf("invoices", f"INV-2026-{seq:05d}", pdf))
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


def bill_entries(line: InvoiceLine, entries: Iterable[Any], minutes: int | None = None) -> None:
    """Claim `entries` for the line's invoice and line, each billed its own whole minutes (or
    `minutes`), as a run writes them."""
    for entry in entries:
        billed = minutes if minutes is not None else entry.duration_ms // 60_000
        EntryBilling.objects.create(
            entry=entry,
            agreement=line.agreement,
            invoice=line.invoice,
            line=line,
            period=line.invoice.period,
            rounded_minutes=billed,
            billed_minutes=billed,
        )


def invoice_with_lines(
    account,
    lines,
    *,
    due=dt.date(2026, 3, 2),
    seq=None,
    year=2026,
    status="approved",
    agreement=None,
    pdf: bool | bytes = False,
    disputed=False,
    dispute_reason="",
    **fields,
) -> Invoice:
    """A final invoice (approved unless `status`) with one time line per item of `lines`, built
    as approval does it: lines (and the entries they bill) on the draft, then one UPDATE (the
    database refuses lines added to a final invoice). An item is an amount ("Consulting <n>",
    Engineer) or a dict of line fields with an `amount`, and optionally `entries` billed by that
    line (their own minutes, or `billed_minutes`). Numbered INV-<year>-NNNNN; `pdf` stores a stub final PDF with its checksum (bytes: that
    content)."""
    items = [dict(x) if isinstance(x, dict) else {"amount": x} for x in lines]
    for item in items:
        item["amount"] = Decimal(item["amount"])
    total = sum((item["amount"] for item in items), Decimal("0.00"))
    seq = seq or next_invoice_seq()
    number = f"INV-{year}-{seq:05d}"
    fields.setdefault("invoice_date", due - dt.timedelta(days=30))
    invoice = InvoiceFactory(
        account=account, net=total, tax=Decimal("0.00"), total=total, due_date=due, **fields
    )
    for position, item in enumerate(items, start=1):
        entries, billed = item.pop("entries", ()), item.pop("billed_minutes", None)
        values = {"description": f"Consulting {position}", "role": "Engineer", **item}
        line = InvoiceLineFactory(invoice=invoice, agreement=agreement, position=position, **values)
        bill_entries(line, entries, billed)
    final: dict[str, Any] = dict(
        status=status,
        number=number,
        number_year=year,
        number_seq=seq,
        disputed=disputed,
        dispute_reason=dispute_reason,
    )
    if pdf:
        final.update(_stored_pdf("invoices", number, pdf))
    Invoice.objects.filter(pk=invoice.pk).update(**final)
    invoice.refresh_from_db()
    return invoice


def credit_note(invoice: Invoice, number: str, pdf: bytes, **fields) -> CreditNote:
    """A numbered credit note (CN-<year>-NNNNN) on `invoice` with its PDF stored."""
    year, seq = number.split("-")[1:]
    return CreditNoteFactory(
        invoice=invoice,
        number=number,
        number_year=int(year),
        number_seq=int(seq),
        pdf=default_storage.save(f"credit_notes/{number}.pdf", ContentFile(pdf)),
        **fields,
    )


def open_dispute(
    invoice: Invoice, email: str, body: str, opened_at=None
) -> tuple[Dispute, DisputeMessage]:
    """An overbilling dispute a customer contact opened, and its first message (10-day SLA)."""
    opened_at = opened_at or timezone.now()
    dispute = Dispute.objects.create(
        invoice=invoice,
        category="overbilling",
        sla_days=10,
        opened_at=opened_at,
        sla_due_at=opened_at + dt.timedelta(days=10),
        opened_by_customer=email,
    )
    message = DisputeMessage.objects.create(dispute=dispute, body=body, author_customer=email)
    return dispute, message


def attach(message: DisputeMessage, content: bytes, name: str) -> DisputeAttachment:
    """A text attachment on a dispute message, stored as `dispute_attachments/<name>`."""
    return DisputeAttachment.objects.create(
        message=message,
        file=default_storage.save(f"dispute_attachments/{name}", ContentFile(content)),
        original_name="note.txt",
        content_type="text/plain; charset=utf-8",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def portal_contact(account, email: str, invited_at=None) -> Contact:
    return Contact.objects.create(
        account=account, email=email, invited_at=invited_at or timezone.now()
    )


def payment_notice(contact: Contact, invoice: Invoice, date: dt.date, amount: str) -> PaymentNotice:
    """A customer's "I paid" notice on `invoice`, in the invoice's currency."""
    return PaymentNotice.objects.create(
        contact=contact,
        account=contact.account,
        invoice=invoice,
        date=date,
        amount=Decimal(amount),
        currency=invoice.currency,
    )


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
