"""Staff pages of the portal: contacts (invite, revoke, per-account options) and the payments
customers announced ("we paid" notices) for finance to match. Role-checked via core.roles."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agreements.models import Account
from core import mail
from core.errors import BillingError, flash_outcome
from core.roles import require
from portal import selectors, services
from portal.models import Contact, PaymentNotice, PortalAccount
from receivables.forms import ReasonForm
from receivables.models import Payment


class InviteForm(forms.Form):
    account = forms.CharField(label="Account ID", max_length=64)
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200, required=False)


@require("contacts.view")
def contacts(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = Contact.objects.select_related("account", "invited_by", "revoked_by")
    if q:
        qs = qs.filter(
            Q(email__icontains=q) | Q(account__name__icontains=q) | Q(account__external_id=q)
        )
    page = Paginator(qs.order_by("account__name", "email"), 50).get_page(request.GET.get("page"))
    shown = {c.account_id for c in page.object_list}
    entries_on = set(
        PortalAccount.objects.filter(account_id__in=shown, show_entries=True).values_list(
            "account_id", flat=True
        )
    )
    link_off = set(
        PortalAccount.objects.filter(account_id__in=shown, link_in_invoice_mail=False).values_list(
            "account_id", flat=True
        )
    )
    context = {"page": page, "q": q, "form": InviteForm(), "entries_on": entries_on}
    # Invitations and sign-in links leave unpreviewed: say so while their templates wait.
    waiting = [
        reason
        for kind in ("portal_invite", "portal_signin")
        if (reason := mail.not_approved_reason(kind))
    ]
    return render(
        request,
        "portal/staff/contacts.html",
        {**context, "link_off": link_off, "mail_waiting": waiting},
    )


@require_POST
@require("contacts.manage")
def contact_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST)
    try:
        if not form.is_valid():
            raise BillingError("Give the Account ID and the contact's e-mail address.")
        key = form.cleaned_data["account"].strip()
        account = Account.objects.filter(external_id=key).first()
        if account is None:
            raise BillingError(f"No account with ID {key!r}.")
        contact = services.contact_invite(
            account=account,
            email=form.cleaned_data["email"],
            name=form.cleaned_data["name"],
            user=request.user,
        )
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invitation sent to {contact.email}.")
    return redirect("contacts:list")


@require_POST
@require("contacts.manage")
def contact_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(Contact, pk=pk)
    flash_outcome(
        request,
        lambda: services.contact_revoke(contact=contact, user=request.user),
        lambda _: f"{contact.email} can no longer sign in.",
    )
    return redirect("contacts:list")


@require_POST
@require("contacts.manage")
def account_options(request: HttpRequest, account_pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_pk)
    if "link_in_invoice_mail" in request.POST:
        on = request.POST.get("link_in_invoice_mail") == "1"
        services.portal_account_set(account=account, link_in_invoice_mail=on, user=request.user)
        state = "name" if on else "no longer name"
        messages.success(request, f"Invoice e-mails to {account.name} {state} the portal.")
        return redirect("contacts:list")
    show = request.POST.get("show_entries") == "1"
    services.portal_account_set(account=account, show_entries=show, user=request.user)
    state = "see" if show else "no longer see"
    messages.success(request, f"Contacts of {account.name} {state} the entries behind lines.")
    return redirect("contacts:list")


@require("payments.view")
def notices(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.expected_notices(), 50).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    candidates = selectors.notice_candidates(shown)
    rows = [(n, candidates[n.pk]) for n in shown]
    return render(request, "portal/staff/notices.html", {"page": page, "rows": rows})


@require_POST
@require("payments.manage")
def notice_match(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(PaymentNotice, pk=pk)
    payment = Payment.objects.filter(external_id=request.POST.get("payment", "")).first()
    if payment is None:
        messages.error(request, "Choose the payment this notice announced.")
    else:
        flash_outcome(
            request,
            lambda: services.payment_notice_match(
                notice=notice, payment=payment, user=request.user
            ),
            lambda _: f"Notice matched to payment {payment.external_id}.",
        )
    return redirect("contacts:notices")


@require_POST
@require("payments.manage")
def notice_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(PaymentNotice, pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    flash_outcome(
        request,
        lambda: services.payment_notice_dismiss(notice=notice, user=request.user, reason=reason),
        lambda _: "Notice dismissed.",
    )
    return redirect("contacts:notices")
