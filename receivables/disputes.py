"""Writes for disputes: open, comment, resolve by credit note (four-eyes above a configured
amount), reject with a reason, re-bill, withdraw.

An open dispute keeps its invoice `disputed` (automatic allocation and dunning skip it, as the
manual flag always did); when the last open dispute of an invoice closes, the flag is cleared and
reminders resume. Locking: the invoice row first, then the dispute row (the order every payment
service uses), so a payment and a dispute on the same invoice never deadlock.

Customers act through the portal: `customer` is the contact's e-mail; history rows then carry
no staff user and the change reason `portal: <e-mail>`, and the portal keeps its own event log
with the contact as actor.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from core.dates import firm_today
from core.errors import BillingError
from core.money import format_money, round_money
from invoicing.models import Invoice, InvoiceLine
from receivables import attachments
from receivables.allocation import mask_card_numbers
from receivables.models import Dispute, DisputeAttachment, DisputeMessage
from receivables.settlement import invoice_open_amount, invoice_set_disputed

MESSAGE_MAX = 5000


def categories() -> dict[str, tuple[str, int]]:
    return dict(settings.BILLING_DISPUTE_CATEGORIES)


def category_label(key: str) -> str:
    return categories().get(key, (key, 0))[0]


def four_eyes_amounts() -> tuple[dict[str, Decimal], Decimal | None]:
    """BILLING_DISPUTE_FOUR_EYES_AMOUNT parsed: `1000.00` (that amount in every currency), or
    per currency `EUR=1000.00; USD=1200.00; JPY=150000`, optionally with a bare amount for the
    currencies not listed. Returns ({currency: amount}, default or None)."""
    raw = settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT
    items = raw.items() if isinstance(raw, dict) else None
    if items is None:
        items = [
            (cur.strip(), amount) if sep else ("", cur)
            for item in str(raw).split(";")
            if item.strip()
            for cur, sep, amount in [item.partition("=")]
        ]
    per_currency: dict[str, Decimal] = {}
    default: Decimal | None = None
    for currency, amount in items:
        try:
            value = Decimal(str(amount).strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            raise ImproperlyConfigured(
                f"BILLING_DISPUTE_FOUR_EYES_AMOUNT: {amount!r} is not an amount "
                "(use 1000.00 or EUR=1000.00; USD=1200.00)."
            )
        if currency:
            per_currency[currency.upper()] = value
        else:
            default = value
    return per_currency, default


def four_eyes_amount(currency: str) -> Decimal:
    """The amount, in `currency`, up to which one user may credit a disputed invoice alone; a
    currency the setting neither lists nor covers by a bare amount has 0 (every credit in it
    needs a second person)."""
    per_currency, default = four_eyes_amounts()
    return per_currency.get(currency.upper(), default if default is not None else Decimal("0"))


def _stamp(obj, user, customer: str = ""):
    obj._history_user = user
    if customer:
        obj._change_reason = f"portal: {customer}"
    return obj


def _clean_text(text: str, what: str = "A message") -> str:
    # Card-like numbers are masked in everything a customer or finance writes: never stored.
    text = mask_card_numbers((text or "").strip())
    if not text:
        raise BillingError(f"{what} is required.")
    if len(text) > MESSAGE_MAX:
        raise BillingError(f"{what} is longer than {MESSAGE_MAX} characters.")
    return text


def _lock(dispute: Dispute) -> tuple[Invoice, Dispute]:
    invoice = Invoice.objects.select_for_update().get(pk=dispute.invoice_id)
    return invoice, Dispute.objects.select_for_update().get(pk=dispute.pk)


def _need_open(dispute: Dispute, action: str) -> None:
    if not dispute.is_open:
        raise BillingError(
            f"Dispute #{dispute.pk} is {dispute.get_status_display().lower()}; "
            f"only an open dispute can be {action}."
        )


def _post(
    dispute: Dispute,
    *,
    body: str,
    user,
    customer: str = "",
    internal: bool = False,
    files: list[attachments.CheckedFile] | None = None,
) -> DisputeMessage:
    message = DisputeMessage(
        dispute=dispute,
        body=body,
        author=user,
        author_customer=customer,
        internal=internal and not customer,
    )
    _stamp(message, user, customer).save()
    for checked in files or []:
        attachment = DisputeAttachment(
            message=message,
            original_name=checked.name,
            content_type=checked.content_type,
            size=len(checked.content),
            sha256=checked.sha256,
        )
        content = attachments.stored_file(checked)
        attachment.file.save(content.name, content, save=False)
        _stamp(attachment, user, customer).save()
    return message


def _close(dispute: Dispute, invoice: Invoice, *, status: str, user, note: str) -> Dispute:
    dispute.status = status
    dispute.resolved_at = timezone.now()
    dispute.resolved_by = user
    dispute.resolution_note = note
    _stamp(dispute, user).save()
    if (
        not invoice.disputes.filter(status__in=Dispute.OPEN_STATUSES)
        .exclude(pk=dispute.pk)
        .exists()
    ):
        invoice_set_disputed(invoice=invoice, reason="", user=user)
    return dispute


def dispute_open(
    *,
    invoice: Invoice,
    category: str,
    message: str,
    user=None,
    customer: str = "",
    lines: list[InvoiceLine] | None = None,
    files: list | None = None,
) -> Dispute:
    """Open a dispute on a final invoice (or some of its lines); the invoice becomes disputed.
    `user` is the staff member, or None with `customer` (the portal contact's e-mail)."""
    known = categories()
    if category not in known:
        raise BillingError(f"Unknown dispute category {category!r}; use one of {', '.join(known)}.")
    body = _clean_text(message)
    checked = attachments.check_uploads(list(files or []))
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status not in Invoice.FINAL_STATUSES:
            raise BillingError(
                f"Invoice {invoice} is not approved; only final invoices are disputed."
            )
        if invoice.disputed or invoice.disputes.filter(status__in=Dispute.OPEN_STATUSES).exists():
            raise BillingError(f"Invoice {invoice} is already disputed.")
        chosen = list(lines or [])
        if any(line.invoice_id != invoice.pk for line in chosen):
            raise BillingError(f"A disputed line is not on invoice {invoice}.")
        sla_days = known[category][1]
        now = timezone.now()
        dispute = Dispute(
            invoice=invoice,
            category=category,
            sla_days=sla_days,
            sla_due_at=now + dt.timedelta(days=sla_days),
            opened_at=now,
            opened_by=user,
            opened_by_customer=customer,
        )
        _stamp(dispute, user, customer).save()
        if chosen:
            dispute.lines.set(chosen)
        _post(dispute, body=body, user=user, customer=customer, files=checked)
        # The message is the invoice's dispute reason, as when finance set the flag by hand.
        invoice_set_disputed(invoice=invoice, reason=body[:2000], user=user, customer=customer)
    return dispute


def dispute_comment(
    *,
    dispute: Dispute,
    message: str,
    user=None,
    customer: str = "",
    internal: bool = False,
    files: list | None = None,
) -> DisputeMessage:
    """Add a message (and files) to an open dispute's thread."""
    body = _clean_text(message)
    checked = attachments.check_uploads(list(files or []))
    with transaction.atomic():
        _invoice, dispute = _lock(dispute)
        _need_open(dispute, "commented on")
        return _post(
            dispute, body=body, user=user, customer=customer, internal=internal, files=checked
        )


def _money(amount) -> Decimal:
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise BillingError(f"Amount must be a decimal amount, got {amount!r}.") from None
    if not value.is_finite() or value <= 0:
        raise BillingError("A credit is for a positive amount.")
    if round_money(value) != value:
        raise BillingError("Amount must have at most 2 decimal places.")
    return round_money(value)


def dispute_credit(*, dispute: Dispute, amount, reason: str, user) -> Dispute:
    """Resolve by a credit note for `amount`. Up to the four-eyes amount of the invoice's currency
    (`four_eyes_amount`) the user issues it at once (and is its approver); above it the credit
    waits for another user."""
    value = _money(amount)
    reason = _clean_text(reason, "A reason")
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        if dispute.status != Dispute.Status.OPEN:
            _need_open(dispute, "credited")
            raise BillingError(f"Dispute #{dispute.pk} already has a credit awaiting approval.")
        open_amount = invoice_open_amount(invoice)
        if value > open_amount:
            raise BillingError(
                f"Invoice {invoice} has {format_money(open_amount, invoice.currency)} open; "
                f"cannot credit {format_money(value, invoice.currency)}."
            )
        dispute.credit_amount = value
        dispute.credit_reason = reason
        dispute.credit_proposed_by = user
        dispute.credit_rebill = False
        if value > four_eyes_amount(invoice.currency):
            dispute.status = Dispute.Status.PENDING_APPROVAL
            _stamp(dispute, user).save()
            return dispute
        return _issue_credit(dispute, invoice, user)


def _issue_credit(dispute: Dispute, invoice: Invoice, approver) -> Dispute:
    from invoicing.services import credit_note_create

    assert dispute.credit_amount is not None
    if dispute.credit_rebill:
        return _issue_rebill(dispute, invoice, approver)
    note = credit_note_create(
        invoice=invoice,
        amount=dispute.credit_amount,
        reason=f"Dispute #{dispute.pk}: {dispute.credit_reason}",
        user=approver,
        through_dispute=True,
    )
    dispute.credit_note = note
    _post(
        dispute,
        body=f"Credit note {note.number} for {format_money(note.amount, note.currency)} issued.",
        user=approver,
    )
    return _close(
        dispute,
        invoice,
        status=Dispute.Status.CREDITED,
        user=approver,
        note=dispute.credit_reason,
    )


def dispute_credit_approve(*, dispute: Dispute, user) -> Dispute:
    """Second pair of eyes: another user than the proposer issues the credit note (or, for a
    proposed re-bill, the credit note and the re-bill draft)."""
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        if dispute.status != Dispute.Status.PENDING_APPROVAL:
            raise BillingError(f"Dispute #{dispute.pk} has no credit awaiting approval.")
        if dispute.credit_proposed_by_id == getattr(user, "pk", None):
            raise BillingError(
                "Four-eyes rule: the user who proposed this credit may not approve it."
            )
        return _issue_credit(dispute, invoice, user)


def dispute_credit_decline(*, dispute: Dispute, user, reason: str) -> Dispute:
    """Send a proposed credit back: the dispute is open again, the proposal kept in history."""
    reason = _clean_text(reason, "A reason")
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        if dispute.status != Dispute.Status.PENDING_APPROVAL:
            raise BillingError(f"Dispute #{dispute.pk} has no credit awaiting approval.")
        assert dispute.credit_amount is not None
        _post(
            dispute,
            body=f"Proposed credit of {format_money(dispute.credit_amount, invoice.currency)} "
            f"declined: {reason}",
            user=user,
            internal=True,
        )
        dispute.status = Dispute.Status.OPEN
        dispute.credit_amount = None
        dispute.credit_reason = ""
        dispute.credit_proposed_by = None
        dispute.credit_rebill = False
        _stamp(dispute, user).save()
    return dispute


def dispute_reject(*, dispute: Dispute, user, reason: str) -> Dispute:
    """Reject with a reason the customer sees; the invoice is payable (and reminded) again."""
    reason = _clean_text(reason, "A reason")
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        _need_open(dispute, "rejected")
        _post(dispute, body=f"Dispute rejected: {reason}", user=user)
        return _close(dispute, invoice, status=Dispute.Status.REJECTED, user=user, note=reason)


def dispute_withdraw(*, dispute: Dispute, user, note: str = "Dispute cleared.") -> Dispute:
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        _need_open(dispute, "withdrawn")
        return _close(dispute, invoice, status=Dispute.Status.WITHDRAWN, user=user, note=note)


def dispute_rebill(*, dispute: Dispute, user, reason: str) -> Dispute:
    """Credit what is open on the invoice and copy its lines onto a draft of the same billing
    group and period (the group's open draft if there is one), for the billing admins to correct
    and approve. The credit is the whole open amount, so it takes the four-eyes rule of
    `dispute_credit`: above the currency's four-eyes amount the re-bill waits (pending approval)
    for another user, who then issues both. Whoever issues it counts as having adjusted that
    draft."""
    reason = _clean_text(reason, "A reason")
    with transaction.atomic():
        invoice, dispute = _lock(dispute)
        if dispute.status != Dispute.Status.OPEN:
            _need_open(dispute, "re-billed")
            raise BillingError(f"Dispute #{dispute.pk} already has a credit awaiting approval.")
        open_amount = invoice_open_amount(invoice)
        if open_amount <= 0:
            raise BillingError(f"Invoice {invoice} has nothing open to credit and re-bill.")
        dispute.credit_amount = open_amount
        dispute.credit_reason = reason
        dispute.credit_proposed_by = user
        dispute.credit_rebill = True
        if open_amount > four_eyes_amount(invoice.currency):
            dispute.status = Dispute.Status.PENDING_APPROVAL
            _stamp(dispute, user).save()
            return dispute
        return _issue_rebill(dispute, invoice, user)


def _issue_rebill(dispute: Dispute, invoice: Invoice, user) -> Dispute:
    from invoicing.services import credit_note_create, invoice_line_add

    open_amount = invoice_open_amount(invoice)
    if open_amount != dispute.credit_amount:
        # A payment or credit arrived after the proposal: crediting the old figure would leave
        # part billed twice (or uncredited) once the lines are re-billed.
        raise BillingError(
            f"Invoice {invoice} now has {format_money(open_amount, invoice.currency)} open, not "
            f"the {format_money(dispute.credit_amount, invoice.currency)} proposed; decline and "
            "re-bill again."
        )
    reason = dispute.credit_reason
    note = credit_note_create(
        invoice=invoice,
        amount=open_amount,
        reason=f"Dispute #{dispute.pk}, re-billed: {reason}",
        user=user,
        through_dispute=True,
    )
    draft = _rebill_draft(invoice, user)
    for line in invoice.lines.order_by("position", "id"):
        invoice_line_add(
            invoice=draft,
            user=user,
            reason=f"Re-bill of {invoice.number} (dispute #{dispute.pk}): {reason}",
            description=line.description,
            amount=line.amount,
            tax_rate=line.tax_rate,
            agreement=line.agreement,
        )
    draft.refresh_from_db()
    dispute.credit_note = note
    dispute.rebill_invoice = draft
    _post(
        dispute,
        body=f"Credit note {note.number} issued; a corrected invoice will follow.",
        user=user,
    )
    return _close(dispute, invoice, status=Dispute.Status.REBILLED, user=user, note=reason)


def _rebill_draft(invoice: Invoice, user) -> Invoice:
    draft = (
        Invoice.objects.select_for_update()
        .filter(
            account_id=invoice.account_id,
            currency=invoice.currency,
            po_number=invoice.po_number,
            period=invoice.period,
            status=Invoice.Status.DRAFT,
        )
        .first()
    )
    if draft is not None:
        return draft
    today = firm_today()
    terms = (invoice.due_date - invoice.invoice_date).days
    draft = Invoice(
        account_id=invoice.account_id,
        currency=invoice.currency,
        po_number=invoice.po_number,
        period=invoice.period,
        invoice_date=max(today, invoice.invoice_date),
        due_date=max(today, invoice.invoice_date) + dt.timedelta(days=terms),
        billing_email=invoice.billing_email,
        status=Invoice.Status.DRAFT,
    )
    _stamp(draft, user).save()
    return draft
