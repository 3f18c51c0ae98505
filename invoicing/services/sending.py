"""Sending an approved invoice by e-mail (SPEC 3).

The mail goes out after the row is committed (`transaction.on_commit`), never while the invoice
row is locked: a slow mail server must not hold up approvals, payments or disputes on it. If the
server refuses the message, the invoice is put back as it was (status, sent_at, sent_to) and the
refusal is reported as a `BillingError`.
"""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from core import mail
from core.errors import BillingError
from core.models import SentMail
from invoicing.mail import credit_note_draft, invoice_draft
from invoicing.models import CreditNote, Invoice
from invoicing.services.common import with_user


def _deliver(
    message: EmailMessage,
    *,
    invoice_id: int,
    sent_at: Any,
    before: dict[str, Any],
    user,
    sent_mail_id: int,
) -> None:
    """Send after commit; on failure undo the recorded send unless the row moved on since."""
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported and undone
        with transaction.atomic():
            SentMail.objects.filter(pk=sent_mail_id).delete()
            invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
            if invoice.sent_at == sent_at:
                for field, value in before.items():
                    setattr(invoice, field, value)
                with_user(invoice, user).save(update_fields=list(before))
        raise BillingError(f"Could not send {invoice} to {message.to[0]}: {exc}") from exc


def invoice_send(
    *,
    invoice: Invoice,
    user,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    previewed: bool = False,
) -> Invoice:
    """E-mail the approved invoice's stored PDF to its billing e-mail (or the `to` / `cc` the
    person chose on the preview page); status `sent`, the message stored as SentMail. Subject and
    body come from the invoice mail template. The mail leaves when this transaction commits (see
    the module docstring).

    Only a send from the preview page (`previewed`: the person saw this message) goes out with a
    template no billing admin approved; the API, the list's "send all" and the Send button refuse
    (mail.TemplateNotApproved, nothing changed) until the invoice template is approved."""
    if not previewed:
        mail.require_approved("invoice", 0)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only an approved invoice is sent."
            )
        if not invoice.pdf:
            raise BillingError(
                f"The PDF of {invoice} is still rendering; send it once it is ready."
            )
        recipients = mail.parse_addresses(to, required=False) if to is not None else None
        copies = mail.parse_addresses(cc or [], label="CC", required=False)
        draft = invoice_draft(invoice, to=recipients, cc=copies)
        if not draft.to:
            raise BillingError(f"Invoice {invoice} has no billing e-mail; set it on the account.")
        message = mail.message_for(draft)
        sent_mail = mail.sent_mail_record(draft=draft, user=user)
        before = {"status": invoice.status, "sent_at": invoice.sent_at, "sent_to": invoice.sent_to}
        if invoice.status == Invoice.Status.APPROVED:
            invoice.status = Invoice.Status.SENT
        invoice.sent_at = timezone.now()
        invoice.sent_to = draft.to[0]
        with_user(invoice, user).save()
        invoice_id, sent_at = invoice.pk, invoice.sent_at
        transaction.on_commit(
            lambda: _deliver(
                message,
                invoice_id=invoice_id,
                sent_at=sent_at,
                before=before,
                user=user,
                sent_mail_id=sent_mail.pk,
            )
        )
    return invoice


def credit_note_send(
    *,
    note: CreditNote,
    user,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    previewed: bool = False,
) -> SentMail:
    """E-mail a credit note's PDF from the credit-note template; stored as SentMail. Without
    `previewed` (the person saw it on its preview page) the template must be approved."""
    if not previewed:
        mail.require_approved("credit_note", 0)
    note = CreditNote.objects.select_related("invoice__account").get(pk=note.pk)
    recipients = mail.parse_addresses(to) if to is not None else None
    draft = credit_note_draft(
        note, to=recipients, cc=mail.parse_addresses(cc or [], label="CC", required=False)
    )
    if not draft.to:
        raise BillingError(f"Credit note {note} has no billing e-mail to go to.")
    return mail.mail_send(draft=draft, user=user)
