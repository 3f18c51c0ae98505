"""Dunning (SPEC 4): the reminders due on a day, recorded and mailed once per invoice and level.

The mail goes out after the reminder rows are committed (`transaction.on_commit`), never while
the invoice row is locked, as an invoice's own mail does (invoicing/services/sending.py). If the
mail server refuses the message, what this send recorded is taken back (its Reminder rows and
the SentMail), so the level is due again and the next run sends it once; the refusal is reported
as a `BillingError`. When the transaction rolls back, nothing is sent.

A run (the beat task, the command, "Run now") holds a reminder, recording nothing so the level
stays due, while its invoice PDF is not stored or while the mail template of its level is not
approved by a billing admin (core/mail.py: no message leaves without a person having seen it or
having approved its template). The next run after the approval sends it. One invoice's reminder
sent from its preview page is seen by the person who sends it and needs no approval.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.core.mail import EmailMessage
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from core import mail
from core.dates import firm_today
from core.errors import BillingError
from core.models import SentMail
from invoicing.mail import contacts, invoice_draft, invoice_values
from invoicing.models import Invoice
from receivables import selectors
from receivables.models import Reminder

logger = logging.getLogger(__name__)


def held(invoice: Invoice) -> bool:
    """A reminder goes out with its invoice's PDF attached, so it is held (not sent and not
    recorded: the level stays due) while the final PDF is not stored yet, e.g. still rendering."""
    return not invoice.pdf


def hold_reason(due: selectors.DueReminder, approved: set[tuple[str, int]] | None = None) -> str:
    """Why a run does not send this reminder now ("" when it sends it): no stored invoice PDF,
    or its level's template not approved. `approved` (mail.approved_slots()) saves a query per
    reminder on the pages that list many."""
    if held(due.invoice):
        return f"held: the PDF of {due.invoice.number} is not stored yet; sent with it once it is"
    if approved is None:
        approved = mail.approved_slots()
    if ("reminder", due.level) not in approved:
        return "held: " + mail.not_approved_reason("reminder", due.level)
    return ""


def held_reminders(
    as_of: dt.date, invoice_ids: list[int] | None = None
) -> list[tuple[selectors.DueReminder, str]]:
    """The reminders due on `as_of` that a run holds, each with its reason (the dunning page and
    the customer page list them)."""
    approved = mail.approved_slots()
    due = selectors.dunning_due(as_of, invoice_ids=invoice_ids)
    return [(d, reason) for d in due if (reason := hold_reason(d, approved))]


def dunning_digest(due: list[selectors.DueReminder]) -> str:
    """A fingerprint of a list of due reminders: which invoice, which level, which lower levels
    it supersedes, whether it is held. The preview page carries it, so "Run now" sends only the
    list a person saw."""
    approved = mail.approved_slots()
    keys = sorted(
        f"{d.invoice.pk}:{d.level}:{','.join(str(n) for n in d.skipped_levels)}:"
        f"{bool(hold_reason(d, approved))}"
        for d in due
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def dunning_run(*, as_of: dt.date, user=None, expected: str | None = None) -> list[Reminder]:
    """Send the reminders due on `as_of` (SPEC 4); returns the Reminder rows recorded.

    Per invoice only the highest due level is mailed; lower levels due at the same time are
    recorded as `superseded`, so a customer never gets several mails for one invoice in one day.
    Idempotent: a level is recorded once per invoice (unique constraint), and the invoice row is
    locked while its reminders are decided, so two concurrent runs never mail twice. `expected`
    (the `dunning_digest` of the list a person confirmed on the preview page) refuses a run whose
    list has changed, even to another list of the same length.
    """
    due = selectors.dunning_due(as_of)
    if expected is not None and dunning_digest(due) != expected:
        raise BillingError(
            f"The reminders due now ({len(due)}) are not the ones you confirmed; nothing was "
            "sent. Check the list again."
        )
    recorded: list[Reminder] = []
    for item in due:
        recorded.extend(_remind(item.invoice.pk, as_of, user, previewed=False))
    return recorded


def reminder_draft(due: selectors.DueReminder, *, to=None, cc=None):
    """The reminder message for one due level: that level's template (escalating wording), the
    open amount, a payment instruction and the invoice PDF."""
    invoice = due.invoice
    values = invoice_values(invoice, due.invoice.open_amount)
    values["days_past_due"] = str(due.days_past_due)
    return invoice_draft(
        invoice,
        to=to if to is not None else contacts(invoice)[:1],
        cc=cc,
        kind="reminder",
        level=due.level,
        values=values,
        with_pdf=not held(invoice),  # a held reminder is only previewed, never sent
    )


def reminder_send(
    *, invoice: Invoice, user, to: list[str], cc: list[str] | None = None
) -> list[Reminder]:
    """Send the reminder due now for one invoice, to the recipients a person chose on its
    preview page. Refused when no level is due (none reached, or each already sent)."""
    if held(invoice):
        raise BillingError(
            f"The PDF of {invoice.number} is not stored yet; its reminder is held until it is."
        )
    recipients = mail.parse_addresses(to)
    copies = mail.parse_addresses(cc or [], label="CC", required=False)
    rows = _remind(invoice.pk, firm_today(), user, to=recipients, cc=copies, previewed=True)
    if not rows:
        raise BillingError(
            f"No reminder is due for {invoice.number}: it is disputed, paid, not yet "
            "past the first level, or every due level was already sent."
        )
    return rows


def _deliver(
    message: EmailMessage, *, invoice: str, reminder_ids: list[int], sent_mail_id: int
) -> None:
    """Send after commit; if the server refuses, take back what this send recorded."""
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported and undone
        with transaction.atomic():
            SentMail.objects.filter(pk=sent_mail_id).delete()
            Reminder.objects.filter(pk__in=reminder_ids).delete()
        raise BillingError(
            f"Could not send the reminder for {invoice} to {', '.join(message.to)}: {exc}"
        ) from exc


def _remind(
    invoice_id: int, as_of: dt.date, user, *, previewed: bool, to=None, cc=None
) -> list[Reminder]:
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("account")
            .get(pk=invoice_id)
        )
        # Decide again under the lock: another run, a payment or a dispute may have come first.
        pending = selectors.dunning_due(as_of, invoice_ids=[invoice_id])
        if not pending:
            return []
        if held(invoice):
            logger.info("dunning: invoice %s held, its PDF is not stored yet", invoice.number)
            return []
        due = pending[0]
        if not previewed and ("reminder", due.level) not in mail.approved_slots():
            logger.info(
                "dunning: invoice %s level %s held, its template is not approved",
                invoice.number,
                due.level,
            )
            return []
        draft = reminder_draft(due, to=to, cc=cc)
        rows = [
            Reminder(
                invoice=invoice,
                level=level,
                sent_on=as_of,
                status=Reminder.Status.SUPERSEDED,
                note=f"Level {due.level} was due at the same time and was sent instead.",
            )
            for level in due.skipped_levels
        ]
        main = Reminder(
            invoice=invoice, level=due.level, sent_on=as_of, sent_to=draft.to[0] if draft.to else ""
        )
        if draft.to:
            main.status = Reminder.Status.SENT
        else:
            main.status = Reminder.Status.NO_EMAIL
            main.note = "No billing email on the invoice or the account; nothing was sent."
        rows.append(main)
        created = bulk_create_with_history(rows, Reminder, default_user=user)
        if draft.to:
            message = mail.message_for(draft)
            sent = mail.sent_mail_record(draft=draft, user=user)
            ids, label = [r.pk for r in created], str(invoice)
            transaction.on_commit(
                lambda: _deliver(message, invoice=label, reminder_ids=ids, sent_mail_id=sent.pk)
            )
        logger.info("dunning: invoice %s level %s (%s)", invoice.number, due.level, main.status)
    return created
