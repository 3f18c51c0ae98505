"""Preview-then-send pages for invoice and credit-note mail (core/mail_views.py does the rest)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import BillingError
from core.mail_views import preview_or_send, sent_for
from core.roles import require
from invoicing import mail, services
from invoicing.models import CreditNote, Invoice


@require_http_methods(["GET", "POST"])
@require("invoices.manage")
def invoice_mail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("account"), pk=pk)
    return preview_or_send(
        request,
        build=lambda: mail.invoice_draft(invoice) if invoice.is_final else _not_final(invoice),
        send=lambda to, cc: services.invoice_send(
            invoice=invoice, user=request.user, to=to, cc=cc, previewed=True
        ),
        contacts=mail.contacts(invoice),
        heading=f"Send invoice {invoice.number or f'Draft #{invoice.pk}'}",
        send_label="Send invoice",
        back_url=reverse("invoicing:detail", args=[invoice.pk]),
        back_label=f"Invoice {invoice.number or invoice.pk}",
        sent=sent_for(invoice_id=invoice.pk),
        done=lambda inv: f"{inv.number} sent to {inv.sent_to}.",
    )


def _not_final(invoice: Invoice):
    raise BillingError(f"Invoice {invoice} is not approved; only an approved invoice is sent.")


@require_http_methods(["GET", "POST"])
@require("credit_notes.create")
def credit_note_mail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(CreditNote.objects.select_related("invoice__account"), pk=pk)
    return preview_or_send(
        request,
        build=lambda: mail.credit_note_draft(note),
        send=lambda to, cc: services.credit_note_send(
            note=note, user=request.user, to=to, cc=cc, previewed=True
        ),
        contacts=mail.contacts(note.invoice),
        heading=f"Send credit note {note.number}",
        send_label="Send credit note",
        back_url=reverse("invoicing:detail", args=[note.invoice_id]),
        back_label=f"Invoice {note.invoice.number}",
        sent=sent_for(kind="credit_note", object_id=note.pk),
        done=lambda sent: f"{note.number} sent to {', '.join(sent.to)}.",
    )
