"""Outgoing mail, one way for every kind (invoice, credit note, statement, reminder, the portal's
invitation and sign-in link): the subject and body come from the kind's template (a billing admin
edits them; the built-in texts below are shown until then), a person sees the message on its
preview page, and every message sent is stored (SentMail: who, when, to, cc, subject, SHA-256 of
each attachment; the portal's sign-in mails are not stored: they carry a sign-in token).

No message leaves without a person having seen it or having approved its template (issue 15). A
preview page's Send is the person seeing it. Everything else (the dunning schedule and "Run now",
the API's and the list's sends, portal invitations and sign-in links) needs the template of its
kind and level approved by a billing admin (`require_approved`); until then it is held or refused
with the reason. Approving a built-in text stores a copy, so the approved text is the text sent.

Templates use Django template syntax with plain-text placeholders only (`{{ customer }}`,
`{{ number }}`, `{{ open_amount }}`, ...); nothing but these strings is in their context.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from core.errors import BillingError
from core.models import MailTemplate, SentMail

_ENGINE = Engine(autoescape=False, libraries={}, builtins=[])

_SIGNATURE = "\n\nKind regards,\n{{ firm }}\n"
DEFAULTS: dict[tuple[str, int], tuple[str, str]] = {
    ("invoice", 0): (
        "Invoice {{ number }} from {{ firm }}",
        "Dear {{ customer }},\n\nplease find attached invoice {{ number }} of {{ invoice_date }} "
        "for {{ total }}, due on {{ due_date }}.\n\n{{ payment_instruction }}{{ portal_link }}"
        + _SIGNATURE,
    ),
    ("credit_note", 0): (
        "Credit note {{ number }} from {{ firm }}",
        "Dear {{ customer }},\n\nplease find attached credit note {{ number }} of {{ date }} for "
        "{{ amount }} against invoice {{ invoice_number }}. It reduces the amount open on that "
        "invoice to {{ open_amount }}." + _SIGNATURE,
    ),
    ("statement", 0): (
        "Statement of account from {{ firm }} as of {{ as_of }}",
        "Dear {{ customer }},\n\nplease find attached your statement of account as of {{ as_of }}: "
        "{{ balance }} open.\n\n{{ payment_instruction }}" + _SIGNATURE,
    ),
    ("reminder", 7): (
        "Friendly reminder: invoice {{ number }} is {{ days_past_due }} days past due",
        "Dear {{ customer }},\n\nthis is a friendly reminder that invoice {{ number }} of "
        "{{ invoice_date }} was due on {{ due_date }} and has {{ open_amount }} open. A copy is "
        "attached. If you have already paid, please disregard this message.\n\n"
        "{{ payment_instruction }}" + _SIGNATURE,
    ),
    ("reminder", 30): (
        "Second reminder: invoice {{ number }} is {{ days_past_due }} days overdue",
        "Dear {{ customer }},\n\nwe have not yet received payment of invoice {{ number }} of "
        "{{ invoice_date }}, due on {{ due_date }}: {{ open_amount }} is open. Please arrange "
        "payment within 7 days, or tell us if anything on the invoice is in question. A copy is "
        "attached.\n\n{{ payment_instruction }}" + _SIGNATURE,
    ),
    ("reminder", 60): (
        "Final notice: invoice {{ number }} is {{ days_past_due }} days overdue",
        "Dear {{ customer }},\n\ninvoice {{ number }} of {{ invoice_date }} is now "
        "{{ days_past_due }} days overdue with {{ open_amount }} open, despite our earlier "
        "reminders. Unless payment reaches us within 7 days we will suspend further work and "
        "pass the matter on for collection. A copy of the invoice is attached.\n\n"
        "{{ payment_instruction }}" + _SIGNATURE,
    ),
    ("portal_invite", 0): (
        "Your {{ firm }} customer portal invitation",
        "{{ greeting }},\n\n{{ firm }} invites you to its customer portal for {{ customer }}: "
        "see and download your invoices, credit notes and statement, tell us about a payment, or "
        "question an invoice.\n\n{{ link }}\n\nThe link works once, within {{ minutes }}. "
        "Later, ask for a new one at {{ signin_page }}.\n\n{{ firm }}\n",
    ),
    ("portal_signin", 0): (
        "Your {{ firm }} customer portal sign-in link",
        "{{ greeting }},\n\nHere is your sign-in link to the {{ firm }} customer portal for "
        "{{ customer }}.\n\n{{ link }}\n\nThe link works once, within {{ minutes }}. "
        "Later, ask for a new one at {{ signin_page }}.\n\n{{ firm }}\n",
    ),
}
_PORTAL = ("greeting", "contact", "customer", "link", "minutes", "signin_page", "firm")
# A text without these would be useless (a sign-in mail without its link): refused on save.
REQUIRED = {"portal_invite": ("link",), "portal_signin": ("link",)}
PLACEHOLDERS = {
    "portal_invite": _PORTAL,
    "portal_signin": _PORTAL,
    "invoice": (
        "customer",
        "number",
        "invoice_date",
        "due_date",
        "total",
        "open_amount",
        "payment_instruction",
        "portal_link",
        "firm",
    ),
    "credit_note": (
        "customer",
        "number",
        "date",
        "amount",
        "invoice_number",
        "open_amount",
        "firm",
    ),
    "statement": ("customer", "as_of", "balance", "payment_instruction", "firm"),
    "reminder": (
        "customer",
        "number",
        "invoice_date",
        "due_date",
        "days_past_due",
        "open_amount",
        "payment_instruction",
        "firm",
    ),
}


def default_for(kind: str, level: int) -> tuple[str, str]:
    """The built-in text; a reminder level without its own default takes the highest default
    level at or below it (the lowest if none), so wording escalates with the level."""
    if kind != "reminder":
        return DEFAULTS[(kind, 0)]
    levels = sorted(lvl for k, lvl in DEFAULTS if k == "reminder")
    below = [lvl for lvl in levels if lvl <= level]
    return DEFAULTS[("reminder", below[-1] if below else levels[0])]


def template_for(kind: str, level: int = 0) -> tuple[str, str]:
    row = MailTemplate.objects.filter(kind=kind, level=level).first()
    return (row.subject, row.body) if row else default_for(kind, level)


def template_slots() -> list[tuple[str, int, str]]:
    """Every template a billing admin sees on the templates page: (kind, level, label), one per
    kind and one per configured reminder level."""
    levels = sorted({int(lvl) for lvl in settings.BILLING_DUNNING_DAYS if int(lvl) >= 0})
    slots = [(k, 0, str(label)) for k, label in MailTemplate.Kind.choices if k != "reminder"]
    slots += [
        ("reminder", lvl, f"Reminder at {lvl} day{'' if lvl == 1 else 's'}") for lvl in levels
    ]
    return slots


def slot_label(kind: str, level: int) -> str:
    labels = {(k, lvl): label for k, lvl, label in template_slots()}
    return labels.get((kind, level), f"{MailTemplate.Kind(kind).label} {level or ''}".strip())


class TemplateNotApproved(BillingError):
    """A message that no person would see before it leaves, whose template is not approved."""


def approved_slots() -> set[tuple[str, int]]:
    """(kind, level) of every approved template, in one query."""
    return set(MailTemplate.objects.filter(approved_at__isnull=False).values_list("kind", "level"))


def not_approved_reason(kind: str, level: int = 0) -> str:
    """ "" when the template of this kind and level is approved, else why the message is held."""
    if MailTemplate.objects.filter(kind=kind, level=level, approved_at__isnull=False).exists():
        return ""
    return (
        f"The {slot_label(kind, level).lower()} mail template is not approved yet; a billing "
        "admin approves it on the Mail templates page."
    )


def require_approved(kind: str, level: int = 0) -> None:
    reason = not_approved_reason(kind, level)
    if reason:
        raise TemplateNotApproved(reason + " Nothing was sent.")


def text_digest(subject: str, body: str) -> str:
    """What the approve button carries: the text the person saw (refused if it changed since)."""
    return hashlib.sha256(f"{subject}\n\x00{body}".encode()).hexdigest()


def check_template(text: str) -> None:
    try:
        _ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        raise BillingError(f"The template does not parse: {exc}") from None


def _check_required(kind: str, body: str) -> None:
    for name in REQUIRED.get(kind, ()):
        if not re.search(r"{{\s*" + name + r"\s*}}", body):
            raise BillingError(f"The body needs {{{{ {name} }}}}: without it the mail is useless.")


def render(kind: str, level: int, values: dict[str, str]) -> tuple[str, str]:
    subject, body = template_for(kind, level)
    context = Context(values, autoescape=False)
    try:
        out_subject = _ENGINE.from_string(subject).render(context)
        out_body = _ENGINE.from_string(body).render(context)
    except TemplateSyntaxError as exc:
        raise BillingError(f"The {kind} template does not parse: {exc}") from None
    return " ".join(out_subject.split()), out_body


def parse_addresses(
    text: str | list[str], *, label: str = "To", required: bool = True
) -> list[str]:
    parts = text if isinstance(text, list) else text.replace(";", ",").split(",")
    addresses = [p.strip() for p in parts if p.strip()]
    bad = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise BillingError(f"{label}: not an e-mail address: {', '.join(bad)}")
    if required and not addresses:
        raise BillingError(f"{label}: give at least one e-mail address.")
    return list(dict.fromkeys(addresses))


@dataclass
class Draft:
    """One message ready to preview and send."""

    kind: str
    object_id: int
    account_id: int
    to: list[str]
    subject: str
    body: str
    level: int = 0
    invoice_id: int | None = None
    cc: list[str] = field(default_factory=list)
    attachments: list[tuple[str, bytes, str]] = field(default_factory=list)

    @property
    def attachment_hashes(self) -> list[dict[str, str]]:
        return [
            {"name": n, "sha256": hashlib.sha256(c).hexdigest()} for n, c, _ in self.attachments
        ]


def message_for(draft: Draft) -> EmailMessage:
    message = EmailMessage(subject=draft.subject, body=draft.body, to=draft.to, cc=draft.cc)
    for name, content, mimetype in draft.attachments:
        message.attach(name, content, mimetype)
    return message


def sent_mail_record(*, draft: Draft, user: Any) -> SentMail:
    """Store the message as sent (call inside the sending transaction; deliver after commit)."""
    return SentMail.objects.create(
        kind=draft.kind,
        level=draft.level,
        object_id=draft.object_id,
        account_id=draft.account_id,
        invoice_id=draft.invoice_id,
        to=draft.to,
        cc=draft.cc,
        subject=draft.subject,
        body=draft.body,
        attachments=draft.attachment_hashes,
        sent_by=user if getattr(user, "pk", None) else None,
        sent_at=timezone.now(),
    )


def deliver(message: EmailMessage, *, sent_mail_id: int) -> None:
    """Send; if the mail server refuses, forget the stored record and report it."""
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any mail failure is reported
        SentMail.objects.filter(pk=sent_mail_id).delete()
        raise BillingError(f"Could not send to {', '.join(message.to)}: {exc}") from exc


def mail_send(*, draft: Draft, user: Any) -> SentMail:
    """Record and send one message (after commit: never while a row is locked)."""
    message = message_for(draft)
    with transaction.atomic():
        sent = sent_mail_record(draft=draft, user=user)
        transaction.on_commit(lambda: deliver(message, sent_mail_id=sent.pk))
    return sent


def mail_template_save(
    *, kind: str, level: int, subject: str, body: str, user: Any
) -> MailTemplate:
    """A billing admin's text for one kind (and reminder level), approved by them: they wrote it
    and saw it. Recorded in its history (who, when, the text)."""
    check_template(subject)
    check_template(body)
    _check_required(kind, body)
    with transaction.atomic():
        row = MailTemplate.objects.select_for_update().filter(kind=kind, level=level).first()
        row = row or MailTemplate(kind=kind, level=level)
        row.subject, row.body, row.updated_by = subject.strip(), body, user
        row.approved_by, row.approved_at = user, timezone.now()
        row._history_user = user  # type: ignore[attr-defined]
        row.save()
    return row


def mail_template_approve(
    *, kind: str, level: int, user: Any, digest: str | None = None
) -> MailTemplate:
    """Approve the current text of one template (the built-in one is stored as a row then);
    `digest` (text_digest of what the person saw) refuses if the text changed since."""
    if (kind, level) not in {(k, lvl) for k, lvl, _ in template_slots()}:
        raise BillingError(f"There is no {kind} mail template at level {level}.")
    with transaction.atomic():
        row = MailTemplate.objects.select_for_update().filter(kind=kind, level=level).first()
        if row is None:
            subject, body = default_for(kind, level)
            row = MailTemplate(kind=kind, level=level, subject=subject, body=body)
        if digest is not None and text_digest(row.subject, row.body) != digest:
            raise BillingError("The template changed since you saw it; check it again.")
        row.approved_by, row.approved_at = user, timezone.now()
        row._history_user = user  # type: ignore[attr-defined]
        row.save()
    return row


def mail_templates_approve_builtin(*, user: Any) -> int:
    """Approve, as `user`, the built-in text of every template that has no row yet (the demo
    seed does this as its billing admin, so the demo's mail and portal sign-in work). Returns
    how many were approved."""
    existing = set(MailTemplate.objects.values_list("kind", "level"))
    approved = 0
    for kind, level, _ in template_slots():
        if (kind, level) not in existing:
            mail_template_approve(kind=kind, level=level, user=user)
            approved += 1
    return approved
