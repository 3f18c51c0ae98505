"""The invoice and credit-note messages: values for their templates and the draft a person
previews (core/mail.py renders, records and sends)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.conf import settings

from core import mail, settlement
from core.errors import BillingError
from core.money import Money
from invoicing.models import CreditNote, Invoice


def payment_instruction(open_amount: Decimal, currency: str, reference: str) -> str:
    return (
        f"Please transfer {Money(open_amount, currency)} to {settings.BILLING_FIRM_NAME}, "
        f"IBAN {settings.BILLING_FIRM_IBAN}, BIC {settings.BILLING_FIRM_BIC}, quoting {reference}."
    )


def contacts(invoice: Invoice) -> list[str]:
    """The account's billing contacts for this invoice, most specific first."""
    return [a for a in dict.fromkeys([invoice.billing_email, invoice.account.billing_email]) if a]


# Values that downstream apps add to the invoice message (e.g. the portal's `portal_link`,
# registered in its AppConfig.ready), so invoicing never imports them.
INVOICE_VALUE_PROVIDERS: list[Callable[[Invoice], dict[str, str]]] = []


def invoice_values(invoice: Invoice, open_amount: Decimal) -> dict[str, str]:
    values = {
        "customer": invoice.account.name,
        "number": invoice.number or f"Draft #{invoice.pk}",
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "total": str(Money(invoice.total, invoice.currency)),
        "open_amount": str(Money(open_amount, invoice.currency)),
        "payment_instruction": payment_instruction(
            open_amount, invoice.currency, invoice.number or ""
        ),
        "firm": settings.BILLING_FIRM_NAME,
        "portal_link": "",
    }
    for provider in INVOICE_VALUE_PROVIDERS:
        values.update(provider(invoice))
    return values


def stored_pdf(invoice: Invoice) -> bytes:
    import hashlib

    if not invoice.pdf:
        raise BillingError(f"Invoice {invoice} has no stored PDF.")
    with invoice.pdf.open("rb") as fh:
        pdf = fh.read()
    if hashlib.sha256(pdf).hexdigest() != invoice.pdf_sha256:
        raise BillingError(f"The stored PDF of {invoice} does not match its hash; not sent.")
    return pdf


def invoice_draft(
    invoice: Invoice,
    *,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    kind: str = "invoice",
    level: int = 0,
    values: dict[str, str] | None = None,
    with_pdf: bool = True,
) -> mail.Draft:
    """The invoice message (or a reminder about it: kind "reminder" and its level)."""
    if values is None:
        values = invoice_values(invoice, settlement.open_amount(invoice))
    subject, body = mail.render(kind, level, values)
    attachments = (
        [(f"{invoice.number}.pdf", stored_pdf(invoice), "application/pdf")] if with_pdf else []
    )
    # The stored final PDF is the Factur-X (CII inside); some customers also want the UBL.
    if with_pdf and kind == "invoice" and invoice.account.einvoice_ubl_by_email:
        from invoicing.einvoice import einvoice_file

        ubl = einvoice_file(invoice, "ubl")
        attachments.append((ubl.filename, ubl.content, ubl.content_type))
    return mail.Draft(
        kind=kind,
        level=level,
        object_id=invoice.pk,
        account_id=invoice.account_id,
        invoice_id=invoice.pk,
        to=to if to is not None else contacts(invoice)[:1],
        cc=cc or [],
        subject=subject,
        body=body,
        attachments=attachments,
    )


def credit_note_draft(
    note: CreditNote, *, to: list[str] | None = None, cc: list[str] | None = None
) -> mail.Draft:
    from invoicing.pdf import credit_note_pdf

    invoice = note.invoice
    values = {
        "customer": invoice.account.name,
        "number": note.number,
        "date": note.date.isoformat(),
        "amount": str(Money(note.amount, note.currency)),
        "invoice_number": invoice.number or "",
        "open_amount": str(Money(settlement.open_amount(invoice), invoice.currency)),
        "firm": settings.BILLING_FIRM_NAME,
    }
    subject, body = mail.render("credit_note", 0, values)
    if note.pdf:
        with note.pdf.open("rb") as fh:
            pdf = fh.read()
    else:
        pdf = credit_note_pdf(note)
    return mail.Draft(
        kind="credit_note",
        object_id=note.pk,
        account_id=invoice.account_id,
        invoice_id=invoice.pk,
        to=to if to is not None else contacts(invoice)[:1],
        cc=cc or [],
        subject=subject,
        body=body,
        attachments=[(f"{note.number}.pdf", pdf, "application/pdf")],
    )
