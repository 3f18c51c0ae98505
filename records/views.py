"""Record screens (issue 15): thin views over records' selectors. Every view checks a capability
on the server; each section of a page is shown only to roles that may read it."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agreements import services as agreement_services
from agreements.models import Account, Agreement, Milestone
from core import mail
from core.dates import DATE_BOUNDS, firm_today
from core.errors import flash_outcome
from core.listing import PAGE_SIZE, DateRangeForm, PkUrl, csv_response, query_without
from core.mail_views import preview_or_send, sent_for
from core.money import format_amount
from core.roles import has_capability, require
from invoicing.models import CreditNote, Invoice
from receivables.dunning import held_reminders
from receivables.models import Reminder
from receivables.selectors import annotate_open_amount, annotate_unapplied
from records import agreements, customers, entries, history

RECENT = 20


@require_GET
@require("customers.view")
def customer_list(request: HttpRequest) -> HttpResponseBase:
    q = request.GET.get("q", "").strip()
    show_money = has_capability(request.user, "invoices.view")
    overdue_only = show_money and request.GET.get("overdue") == "1"
    today = firm_today()
    sort, listed = customers.customer_list(
        q=q, overdue_only=overdue_only, today=today, sort=request.GET.get("sort"), money=show_money
    )
    if request.GET.get("format") == "csv":
        return csv_response(
            f"customers-{today:%Y-%m-%d}.csv",
            customers.CSV_MONEY_HEADER if show_money else customers.CSV_HEADER,
            customers.csv_rows(listed, money=show_money, today=today),
        )
    page = Paginator(listed, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = cast("list[customers.ListedAccount]", list(page.object_list))  # set below
    balances = customers.balances([a.pk for a in rows], today=today) if show_money else {}
    detail = PkUrl("records:customer")  # reversed once, not a {% url %} per row
    for account in rows:
        account.balances = balances.get(account.pk, [])
        account.detail_url = detail(account.pk)
    return render(
        request,
        "records/customer_list.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "overdue_only": overdue_only,
            "show_money": show_money,
            "sort": sort,
            "sort_query": query_without(request, "sort", "page", "format"),
            "filter_query": query_without(request, "page", "format"),
        },
    )


@require_GET
@require("customers.view")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=pk)
    user = request.user
    today = firm_today()
    context: dict = {
        "account": account,
        "details": customers.billing_details(account),
        "agreements": list(account.agreements.select_related("parent").order_by("external_id")),
        "today": today,
        "statement_form": DateRangeForm(
            initial={"date_from": today.replace(month=1, day=1), "date_to": today}
        ),
    }
    if has_capability(user, "invoices.view"):
        invoices = annotate_open_amount(account.invoices.select_related("account")).order_by(
            "-invoice_date", "-id"
        )
        context["invoice_count"] = account.invoices.count()
        context["invoices"] = list(invoices[:RECENT])
        context["balances"] = customers.balances([account.pk], today=today).get(account.pk, [])
        context["credit_notes"] = list(
            CreditNote.objects.filter(invoice__account=account)
            .select_related("invoice")
            .order_by("-date", "-number")[:RECENT]
        )
    if has_capability(user, "payments.view"):
        context["payments"] = list(
            annotate_unapplied(account.payments.all()).order_by("-date", "-id")[:RECENT]
        )
        context["unapplied"] = customers.unapplied_by_currency(account)
    context["sent_mails"] = list(sent_for(account_id=account.pk)[:RECENT])
    context["history"], _ = history.history_page(
        user=user, data={"account": account.pk}, size=RECENT
    )
    if has_capability(user, "dunning.view"):
        context["reminders"] = list(
            Reminder.objects.filter(invoice__account=account)
            .select_related("invoice")
            .order_by("-sent_on", "-id")[:RECENT]
        )
        open_ids = list(
            account.invoices.filter(status__in=Invoice.FINAL_STATUSES).values_list("pk", flat=True)
        )
        context["held_reminders"] = held_reminders(today, invoice_ids=open_ids) if open_ids else []
    return render(request, "records/customer_detail.html", context)


@require_POST
@require("invoices.manage")
def customer_einvoice_mail(request: HttpRequest, pk: int) -> HttpResponse:
    """Turn the UBL attachment of the account's invoice e-mails on ("1") or off (SPEC 3.2)."""
    account = get_object_or_404(Account, pk=pk)
    on = request.POST.get("ubl_by_email") == "1"
    agreement_services.account_einvoice_mail_set(
        account=account, ubl_by_email=on, user=request.user
    )
    state = "carry the Factur-X PDF and the UBL file" if on else "carry the Factur-X PDF only"
    messages.success(request, f"Invoice e-mails to {account.name} now {state}.")
    return redirect("records:customer", pk=account.pk)


@require_GET
@require("aging.view")
def customer_statement(request: HttpRequest, pk: int) -> HttpResponseBase:
    account = get_object_or_404(Account, pk=pk)
    today = firm_today()
    form = DateRangeForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    date_from: dt.date = data.get("date_from") or today.replace(month=1, day=1)
    date_to: dt.date = data.get("date_to") or today
    sections = (
        []
        if form.empty_range
        else customers.range_statement(account=account, date_from=date_from, date_to=date_to)
    )
    if request.GET.get("format") == "csv":
        rows = [
            (
                s.currency,
                line.date.isoformat(),
                line.kind,
                line.reference,
                format_amount(line.debit),
                format_amount(line.credit),
                format_amount(line.balance),
            )
            for s in sections
            for line in s.lines
        ]
        name = f"statement-{account.external_id}-{date_from}-{date_to}.csv"
        return csv_response(
            name, ("currency", "date", "type", "reference", "debit", "credit", "balance"), rows
        )
    return render(
        request,
        "records/statement.html",
        {
            "account": account,
            "form": form,
            "date_from": date_from,
            "date_to": date_to,
            "sections": sections,
            "query": query_without(request, "format"),
        },
    )


# --- agreements ---------------------------------------------------------------------------------


class MilestoneCompleteForm(forms.Form):
    completed_on = forms.DateField(
        validators=DATE_BOUNDS, label="Completed on", widget=forms.DateInput({"type": "date"})
    )


@require_GET
@require("agreements.view")
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        agreement = agreements.agreement_detail(pk)
    except Agreement.DoesNotExist:
        raise Http404("No such agreement.") from None
    user = request.user
    context: dict = {
        "agreement": agreement,
        "role_rates": list(agreement.role_rates.all()),
        "children": list(agreement.children.all()),
        "cap": agreements.cap_usage(agreement),
        # Not "block": inside {% block %} Django's template engine binds that name to the block
        # itself (for block.super), so the tile would render empty.
        "prepaid_block": agreements.block_balance(agreement),
        "milestones": agreements.milestone_rows(agreement),
        "months": agreements.delivered_by_month(agreement),
        "can_complete": has_capability(user, "milestones.complete"),
        "complete_form": MilestoneCompleteForm(initial={"completed_on": firm_today()}),
        "today": firm_today(),
    }
    if has_capability(user, "flags.view"):
        flags = agreements.agreement_flags(agreement)
        context["flags"] = list(flags[:RECENT])
        context["flag_count"] = flags.count()
    if has_capability(user, "invoices.view"):
        context["invoices"] = list(agreements.agreement_invoices(agreement)[:RECENT])
    return render(request, "records/agreement_detail.html", context)


@require_POST
@require("milestones.complete")
def milestone_complete(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = get_object_or_404(Milestone, pk=pk)
    form = MilestoneCompleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the completion date as YYYY-MM-DD.")
    else:
        flash_outcome(
            request,
            lambda: agreement_services.milestone_complete(
                milestone=milestone,
                user=request.user,
                completed_on=form.cleaned_data["completed_on"],
            ),
            lambda done: (
                f"“{done.name}” marked complete on {done.completed_on:%Y-%m-%d}; the next "
                "invoice run for a month ending on or after that day bills it."
            ),
        )
    return redirect("records:agreement", pk=milestone.agreement_id)


# --- time entries -------------------------------------------------------------------------------


@require_GET
@require("entries.view")
def entry_browser(request: HttpRequest) -> HttpResponseBase:
    form = entries.EntryFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = entries.filtered_entries(data)
    if form.is_bound and (not form.is_valid() or form.empty_range):
        qs = qs.none()
    if request.GET.get("format") == "csv":
        name = f"time-entries-{firm_today():%Y-%m-%d}.csv"
        return csv_response(name, entries.CSV_HEADER, entries.csv_rows(qs))
    page = entries.entry_page(qs, entries.Cursor.parse(request.GET.get("after")))
    return render(
        request,
        "records/entries.html",
        {
            "form": form,
            "page": page,
            "filter_query": query_without(request, "after", "format"),
        },
    )


# --- history ------------------------------------------------------------------------------------


@require_GET
@require("history.view")
def history_view(request: HttpRequest) -> HttpResponseBase:
    kinds = history.kinds_for(request.user)
    form = history.HistoryFilterForm(request.GET or None, kinds=kinds)
    data = form.cleaned_data if form.is_valid() else {}
    nothing = form.empty_range or (form.is_bound and not form.is_valid())
    if request.GET.get("format") == "csv":
        rows = iter(()) if nothing else history.csv_rows(user=request.user, data=data)
        return csv_response(f"history-{firm_today():%Y-%m-%d}.csv", history.CSV_HEADER, rows)
    events, cursor = ([], None) if nothing else (history.history_page(user=request.user, data=data))
    account = None
    if data.get("account"):
        account = Account.objects.filter(pk=data["account"]).first()
    return render(
        request,
        "records/history.html",
        {
            "form": form,
            "events": events,
            "cursor": cursor,
            "account": account,
            "filter_query": query_without(request, "before", "format"),
        },
    )


# --- statement mail -----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@require("statements.send")
def statement_mail(request: HttpRequest, pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=pk)
    contacts = [account.billing_email] if account.billing_email else []
    return preview_or_send(
        request,
        build=lambda: customers.statement_draft(account, as_of=firm_today(), to=contacts),
        send=lambda to, cc: mail.mail_send(
            draft=customers.statement_draft(account, as_of=firm_today(), to=to, cc=cc),
            user=request.user,
        ),
        contacts=contacts,
        heading=f"Send a statement to {account.name}",
        send_label="Send statement",
        back_url=reverse("records:customer", args=[account.pk]),
        back_label=account.name,
        sent=sent_for(kind="statement", account_id=account.pk),
        done=lambda sent: f"Statement sent to {', '.join(sent.to)}.",
    )
