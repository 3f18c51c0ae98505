"""Sending an approved invoice by e-mail (SPEC 3).

The mail goes out after the row is committed (`transaction.on_commit`), never while the invoice
row is locked: a slow mail server must not hold up approvals, payments or disputes on it. If the
server refuses the message, the invoice is put back as it was (status, sent_at, sent_to) and the
refusal is reported as a `BillingError`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from core.errors import BillingError
from invoicing.models import Invoice
from invoicing.services.common import with_user


def _message(invoice: Invoice, to: str, pdf: bytes) -> EmailMessage:
    firm = settings.BILLING_FIRM_NAME
    message = EmailMessage(
        subject=f"Invoice {invoice.number} from {firm}",
        body=(
            f"Dear {invoice.account.name},\n\nplease find attached invoice {invoice.number} "
            f"of {invoice.invoice_date:%Y-%m-%d} for {invoice.currency} {invoice.total:,.2f}, "
            f"due on {invoice.due_date:%Y-%m-%d}.\n\nKind regards,\n{firm}\n"
        ),
        to=[to],
    )
    message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
    return message


def _deliver(
    message: EmailMessage, *, invoice_id: int, sent_at: Any, before: dict[str, Any], user
) -> None:
    """Send after commit; on failure undo the recorded send unless the row moved on since."""
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported and undone
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            if invoice.sent_at == sent_at:
                for field, value in before.items():
                    setattr(invoice, field, value)
                with_user(invoice, user).save(update_fields=list(before))
        raise BillingError(f"Could not send {invoice} to {message.to[0]}: {exc}") from exc


def invoice_send(*, invoice: Invoice, user) -> Invoice:
    """E-mail the approved invoice's stored PDF to its billing e-mail; status `sent`, recorded.
    The mail leaves when this transaction commits (see the module docstring)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only an approved invoice is sent."
            )
        to = invoice.billing_email or invoice.account.billing_email
        if not to:
            raise BillingError(f"Invoice {invoice} has no billing e-mail; set it on the account.")
        if not invoice.pdf:
            raise BillingError(f"Invoice {invoice} has no stored PDF.")
        with invoice.pdf.open("rb") as fh:
            pdf = fh.read()
        if hashlib.sha256(pdf).hexdigest() != invoice.pdf_sha256:
            raise BillingError(f"The stored PDF of {invoice} does not match its hash; not sent.")
        message = _message(invoice, to, pdf)
        before = {"status": invoice.status, "sent_at": invoice.sent_at, "sent_to": invoice.sent_to}
        if invoice.status == Invoice.Status.APPROVED:
            invoice.status = Invoice.Status.SENT
        invoice.sent_at = timezone.now()
        invoice.sent_to = to
        with_user(invoice, user).save()
        invoice_id, sent_at = invoice.pk, invoice.sent_at
        transaction.on_commit(
            lambda: _deliver(
                message, invoice_id=invoice_id, sent_at=sent_at, before=before, user=user
            )
        )
    return invoice
