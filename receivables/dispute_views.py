"""Finance pages for disputes: the list with age against SLA and the KPIs, a dispute's detail
with its thread, and the resolving actions. Thin: forms validate, services in
receivables/disputes.py write, selectors read."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.errors import BillingError
from core.roles import require
from invoicing.models import Invoice
from receivables import attachments, disputes, selectors
from receivables.forms import DisputeCommentForm, DisputeCreditForm, DisputeOpenForm, ReasonForm
from receivables.models import Dispute, DisputeAttachment

STATUS_FILTERS = [("open", "Open"), ("closed", "Closed"), ("", "All")]


@require("disputes.view")
def dispute_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    if status not in {key for key, _ in STATUS_FILTERS}:
        status = "open"
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.dispute_list(status=status, q=q), 50).get_page(
        request.GET.get("page")
    )
    rows = [
        (d, selectors.dispute_age(d), disputes.category_label(d.category)) for d in page.object_list
    ]
    found = None
    if q:
        found = (
            selectors.annotate_open_amount(selectors.final_invoices().select_related("account"))
            .filter(number__icontains=q)
            .order_by("number")[:20]
        )
    return render(
        request,
        "receivables/disputes.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "status_filters": STATUS_FILTERS,
            "q": q,
            "found": found,
            "kpis": selectors.dispute_kpis(),
        },
    )


@require("disputes.view")
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(
        Dispute.objects.select_related(
            "invoice", "invoice__account", "credit_note", "rebill_invoice"
        ),
        pk=pk,
    )
    invoice = selectors.annotate_open_amount(Invoice.objects.filter(pk=dispute.invoice_id)).get()
    thread = dispute.messages.select_related("author").prefetch_related("attachments")
    return render(
        request,
        "receivables/dispute_detail.html",
        {
            "dispute": dispute,
            "invoice": invoice,
            "age": selectors.dispute_age(dispute),
            "label": disputes.category_label(dispute.category),
            "disputed_lines": dispute.lines.order_by("position", "id"),
            "thread": thread,
            "comment_form": DisputeCommentForm(),
            "credit_form": DisputeCreditForm(),
            "four_eyes_amount": disputes.four_eyes_amount(dispute.invoice.currency),
            "accept": attachments.ACCEPT,
        },
    )


def _act(request: HttpRequest, pk: int, action, success: str) -> HttpResponse:
    dispute = get_object_or_404(Dispute, pk=pk)
    try:
        action(dispute)
    except BillingError as exc:
        messages.error(request, str(exc))
    else:
        if success:  # empty: the action said how it went
            messages.success(request, success)
    return redirect("receivables:dispute", pk=pk)


def _reason(request: HttpRequest) -> str:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        raise BillingError("A reason is required.")
    return form.cleaned_data["reason"]


@require_POST
@require("disputes.manage")
def dispute_comment(request: HttpRequest, pk: int) -> HttpResponse:
    def act(dispute: Dispute) -> None:
        form = DisputeCommentForm(request.POST)
        if not form.is_valid():
            raise BillingError("Write a message (at most 5000 characters).")
        disputes.dispute_comment(
            dispute=dispute,
            message=form.cleaned_data["message"],
            internal=form.cleaned_data["internal"],
            files=request.FILES.getlist("files"),
            user=request.user,
        )

    return _act(request, pk, act, "Message added.")


def _confirm_first(
    request: HttpRequest,
    pk: int,
    *,
    action: str,
    title: str,
    amount: Decimal | str | None,
    consequence: str,
    fields: dict[str, str],
) -> HttpResponse | None:
    """Every resolving action that cannot be taken back is two POSTs: the first shows the amount,
    invoice and customer and writes nothing; the second (the same fields and confirm=1) acts.
    None when this POST is the confirmed one (or the dispute is closed, which the action refuses
    with the reason). `amount` "open": the invoice's open amount."""
    dispute = get_object_or_404(Dispute, pk=pk)
    if request.POST.get("confirm") == "1" or not dispute.is_open:  # closed: the action refuses
        return None
    invoice = selectors.annotate_open_amount(
        Invoice.objects.filter(pk=dispute.invoice_id).select_related("account")
    ).get()
    if amount == "open":
        amount = invoice.open_amount
    return render(
        request,
        "receivables/dispute_confirm.html",
        {
            "dispute": dispute,
            "invoice": invoice,
            "action": action,
            "title": title,
            "amount": amount,
            "consequence": consequence,
            "fields": fields,
            "four_eyes_amount": disputes.four_eyes_amount(invoice.currency),
            "needs_approver": action != "receivables:dispute_approve"
            and isinstance(amount, Decimal)
            and amount > disputes.four_eyes_amount(invoice.currency),
        },
    )


def _confirm_with_reason(request: HttpRequest, pk: int, **kwargs) -> HttpResponse | None:
    """`_confirm_first` for an action that needs only a reason; without one it goes straight to
    the action, which refuses it."""
    reason = request.POST.get("reason", "").strip()
    if not reason:
        return None
    return _confirm_first(request, pk, fields={"reason": reason}, **kwargs)


@require_POST
@require("disputes.resolve")
def dispute_credit(request: HttpRequest, pk: int) -> HttpResponse:
    form = DisputeCreditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        asked = _confirm_first(
            request,
            pk,
            action="receivables:dispute_credit",
            title="Resolve the dispute with a credit note?",
            amount=data["amount"],
            consequence="The credit note gets the next number and cannot be deleted.",
            fields={"amount": str(data["amount"]), "reason": data["reason"]},
        )
        if asked is not None:
            return asked

    def act(dispute: Dispute) -> None:
        if not form.is_valid():
            raise BillingError("Enter an amount greater than zero and a reason.")
        done = disputes.dispute_credit(
            dispute=dispute,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            user=request.user,
        )
        if done.status == Dispute.Status.PENDING_APPROVAL:
            messages.info(
                request, "The credit is above the four-eyes amount: another user must approve it."
            )

    return _act(request, pk, act, "Credit recorded.")


@require_POST
@require("disputes.resolve")
def dispute_approve(request: HttpRequest, pk: int) -> HttpResponse:
    proposed = get_object_or_404(Dispute, pk=pk)
    # Only an approval that can happen asks first; the others are refused with the reason.
    if (
        proposed.status == Dispute.Status.PENDING_APPROVAL
        and proposed.credit_proposed_by_id != request.user.pk
    ):
        asked = _confirm_first(
            request,
            pk,
            action="receivables:dispute_approve",
            title="Approve the proposed re-bill?"
            if proposed.credit_rebill
            else "Approve the credit?",
            amount=proposed.credit_amount,
            consequence=(
                "A credit note for the open amount is issued and the invoice's lines are copied "
                "onto a draft; the credit note cannot be deleted."
                if proposed.credit_rebill
                else "The credit note is issued now, gets the next number and cannot be deleted."
            ),
            fields={},
        )
        if asked is not None:
            return asked
    return _act(
        request,
        pk,
        lambda d: disputes.dispute_credit_approve(dispute=d, user=request.user),
        "Credit approved; the credit note is issued.",
    )


@require_POST
@require("disputes.resolve")
def dispute_decline(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda d: disputes.dispute_credit_decline(
            dispute=d, user=request.user, reason=_reason(request)
        ),
        "Proposed credit declined; the dispute is open again.",
    )


@require_POST
@require("disputes.resolve")
def dispute_reject(request: HttpRequest, pk: int) -> HttpResponse:
    asked = _confirm_with_reason(
        request,
        pk,
        action="receivables:dispute_reject",
        title="Reject the dispute?",
        amount=None,
        consequence="The dispute closes with this reason, which the customer sees; the open "
        "amount is payable again and is reminded.",
    )
    if asked is not None:
        return asked
    return _act(
        request,
        pk,
        lambda d: disputes.dispute_reject(dispute=d, user=request.user, reason=_reason(request)),
        "Dispute rejected; the invoice is payable and reminded again.",
    )


@require_POST
@require("disputes.resolve")
def dispute_rebill(request: HttpRequest, pk: int) -> HttpResponse:
    asked = _confirm_with_reason(
        request,
        pk,
        action="receivables:dispute_rebill",
        title="Credit the invoice in full and re-bill it?",
        amount="open",
        consequence="A credit note for the open amount is issued (it cannot be deleted) and "
        "the invoice's lines are copied onto a draft for review.",
    )
    if asked is not None:
        return asked

    def act(dispute: Dispute) -> None:
        done = disputes.dispute_rebill(dispute=dispute, user=request.user, reason=_reason(request))
        if done.status == Dispute.Status.PENDING_APPROVAL:
            messages.info(
                request,
                "The open amount is above the four-eyes amount: another user must approve "
                "the re-bill.",
            )
        else:
            messages.success(request, "Invoice credited; its lines are on a draft for review.")

    return _act(request, pk, act, "")


@require("disputes.view")
def dispute_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    return attachments.attachment_response(get_object_or_404(DisputeAttachment, pk=pk))


@require_POST
@require("disputes.manage")
def invoice_dispute(request: HttpRequest, pk: int) -> HttpResponse:
    """Finance opens a dispute on the customer's behalf (category, message, files)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    form = DisputeOpenForm(request.POST)
    try:
        if not form.is_valid():
            raise BillingError("Choose a category and write what the customer disputes.")
        ids = [int(x) for x in request.POST.getlist("lines") if x.isdigit()]
        lines = list(invoice.lines.filter(pk__in=ids))
        dispute = disputes.dispute_open(
            invoice=invoice,
            category=form.cleaned_data["category"],
            message=form.cleaned_data["message"],
            lines=lines,
            files=request.FILES.getlist("files"),
            user=request.user,
        )
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("receivables:invoice", pk=pk)
    messages.success(
        request, f"{invoice.number} is disputed: no reminders, no automatic allocation."
    )
    return redirect("receivables:dispute", pk=dispute.pk)
