"""Dunning pages: the schedule, what "Run now" would send (previewed, then confirmed by its
digest), and one invoice's reminder."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core import mail
from core.dates import firm_today
from core.errors import BillingError
from core.mail_views import preview_or_send, sent_for
from core.roles import require
from invoicing.mail import contacts as invoice_contacts
from invoicing.models import Invoice
from receivables import dunning as reminders
from receivables import selectors


@require("dunning.view")
def dunning(request: HttpRequest) -> HttpResponse:
    today = firm_today()
    return render(
        request,
        "receivables/dunning.html",
        {
            "today": today,
            "due_today": selectors.dunning_due(today),
            "held": reminders.held_reminders(today),
            "due_tomorrow": selectors.dunning_due(today + dt.timedelta(days=1)),
            "page": Paginator(
                selectors.reminder_list(q=request.GET.get("q", "").strip()), 50
            ).get_page(request.GET.get("page")),
            "levels": selectors.dunning_levels(),
        },
    )


@require("dunning.run")
def dunning_preview(request: HttpRequest) -> HttpResponse:
    """What "Run now" would send today, message by message, before anything leaves."""
    today = firm_today()
    approved = mail.approved_slots()
    rows = []
    for due in selectors.dunning_due(today):
        held = reminders.hold_reason(due, approved)
        try:
            draft = reminders.reminder_draft(due)
        except BillingError as exc:
            rows.append({"due": due, "draft": None, "problem": str(exc), "held": held})
        else:
            rows.append({"due": due, "draft": draft, "problem": "", "held": held})
    return render(
        request,
        "receivables/dunning_preview.html",
        {
            "rows": rows,
            "today": today,
            "digest": reminders.dunning_digest([r["due"] for r in rows]),
            "sending": sum(1 for r in rows if not r.get("held")),
            "held": sum(1 for r in rows if r.get("held")),
        },
    )


@require_POST
@require("dunning.run")
def dunning_run(request: HttpRequest) -> HttpResponse:
    try:
        recorded = reminders.dunning_run(
            as_of=firm_today(),
            user=request.user,
            # Always checked: a POST without the preview's digest sends nothing.
            expected=request.POST.get("confirm_digest", ""),
        )
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("receivables:dunning_preview")
    else:
        sent = sum(1 for r in recorded if r.status == "sent")
        skipped = len(recorded) - sent
        messages.success(
            request,
            f"Dunning run: {sent} reminder{'s' if sent != 1 else ''} sent, "
            f"{skipped} recorded as skipped.",
        )
    return redirect("receivables:dunning")


@require_http_methods(["GET", "POST"])
@require("dunning.run")
def invoice_remind(request: HttpRequest, pk: int) -> HttpResponse:
    """One invoice's reminder: the level due now, previewed, then sent to the chosen To/CC."""
    inv = get_object_or_404(Invoice.objects.select_related("account"), pk=pk)

    def build():
        due = selectors.dunning_due(firm_today(), invoice_ids=[inv.pk])
        if not due:
            raise BillingError(
                f"No reminder is due for {inv.number}: it is disputed, paid, not yet past the "
                "first level, or every due level was already sent."
            )
        return reminders.reminder_draft(due[0])

    return preview_or_send(
        request,
        build=build,
        send=lambda to, cc: reminders.reminder_send(invoice=inv, user=request.user, to=to, cc=cc),
        contacts=invoice_contacts(inv),
        heading=f"Send a reminder for {inv.number}",
        send_label="Send reminder",
        back_url=reverse("receivables:invoice", args=[inv.pk]),
        back_label=f"Invoice {inv.number}",
        sent=sent_for(invoice_id=inv.pk, kind="reminder"),
        done=lambda rows: f"Reminder for {inv.number} sent to {rows[-1].sent_to}.",
    )
