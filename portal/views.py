"""The customer portal's pages. Each one is for a signed-in contact (portal.auth) and reads
through portal.selectors, which start from the contact's account; services write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.dates import firm_today
from core.errors import BillingError
from core.login import client_address
from core.pdf import firm_letterhead
from portal import auth, selectors, services, throttle
from portal.forms import NoticeForm, PortalDisputeForm, PortalMessageForm, SignInForm
from receivables import attachments, disputes
from receivables.exports import statement_pdf

T = TypeVar("T")

PAGE_SIZE = 50  # invoices, and credit notes, per page of the invoices page


def _firm() -> dict[str, Any]:
    """The letterhead and bank details of the invoices (BILLING_FIRM_*)."""
    return {
        **firm_letterhead(),
        "bank": settings.BILLING_FIRM_BANK,
        "iban": settings.BILLING_FIRM_IBAN,
        "bic": settings.BILLING_FIRM_BIC,
        "instructions": settings.BILLING_PAYMENT_INSTRUCTIONS,
    }


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200):
    context = {"firm": _firm(), "contact": getattr(request, "contact", None), **context}
    return render(request, template, context, status=status)


def _download(request: HttpRequest, field: Any, filename: str, what: str) -> FileResponse:
    if not field:
        raise Http404("No document stored.")
    services.event_record(contact=request.contact, action="download", detail=what)  # type: ignore[attr-defined]
    response = FileResponse(
        field.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf"
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- sign-in -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. The answer is the same whether or not the address is known."""
    form = SignInForm(request.POST or None)
    sent = False
    if request.method == "POST":
        retry = throttle.signin_retry_after(
            address=client_address(request), email=request.POST.get("email", "")
        )
        if retry is not None:
            return _signin_throttled(request, form, retry)
        if form.is_valid():
            services.signin_link_request(
                email=form.cleaned_data["email"],
                next_path=auth.safe_next(request.GET.get("next")),
            )
            sent = True
    context = {"form": form, "sent": sent, "link_minutes": settings.PORTAL_LINK_MINUTES}
    return _render(request, "portal/signin.html", context)


def _signin_throttled(request: HttpRequest, form: SignInForm, retry: int) -> HttpResponse:
    """429 with Retry-After: a page, or JSON for a client that asks for it."""
    minutes = max(1, -(-retry // 60))
    message = (
        "Too many sign-in link requests from here or for this address; "
        f"please try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    response: HttpResponse
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"detail": message, "retry_after": retry}, status=429)
    else:
        context = {"form": form, "sent": False, "throttled": message}
        response = _render(request, "portal/signin.html", context, status=429)
    response["Retry-After"] = str(retry)
    return response


@require_http_methods(["GET", "POST"])
def signin_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that follow links do not use them up); POST signs in."""
    if request.method == "GET":
        link = services.signin_link_check(token=token)
        if link is None:
            return _render(request, "portal/link_invalid.html", {}, status=410)
        return _render(request, "portal/signin_confirm.html", {"link": link})
    redeemed = services.signin_link_redeem(token=token)
    if redeemed is None:
        return _render(request, "portal/link_invalid.html", {}, status=410)
    _contact, session_token = redeemed
    # The form posts to this URL, query included: `next` from the mailed link survives.
    response = redirect(auth.safe_next(request.GET.get("next")) or "portal:home")
    auth.set_cookie(response, session_token)
    return response


@require_POST
@auth.portal_login_required
def signout(request: HttpRequest) -> HttpResponse:
    services.portal_session_end(session=request.portal_session)  # type: ignore[attr-defined]
    response = redirect("portal:signin")
    auth.clear_cookie(response)
    return response


# --- account -----------------------------------------------------------------------------------


@auth.portal_login_required
def home(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    invoices = selectors.invoices(contact)
    return _render(
        request,
        "portal/home.html",
        {
            "balances": selectors.balances(contact),
            "open_invoices": invoices.filter(open_amount__gt=0).order_by("due_date", "number"),
            "open_disputes": selectors.disputes(contact).filter(
                status__in=["open", "pending_approval"]
            ),
            "today": firm_today(),
        },
    )


@auth.portal_login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    # Pages, not a cap: every invoice and credit note of the account stays reachable.
    invoices = Paginator(selectors.invoices(contact), PAGE_SIZE).get_page(request.GET.get("page"))
    notes = Paginator(selectors.credit_notes(contact), PAGE_SIZE).get_page(
        request.GET.get("cn_page")
    )
    return _render(
        request,
        "portal/invoices.html",
        {
            "invoices": invoices,
            "credit_notes": notes,
            "disputes": selectors.disputes(contact).order_by("-opened_at")[:200],
            "notices": selectors.notices(contact)[:100],
        },
    )


@auth.portal_login_required
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    invoice = get_object_or_404(selectors.invoices(contact), pk=pk)
    with_entries = selectors.shows_entries(contact)
    return _render(
        request,
        "portal/invoice.html",
        {
            "invoice": invoice,
            "lines": selectors.invoice_lines(invoice, with_entries=with_entries),
            "with_entries": with_entries,
            "credit_notes": selectors.credit_notes(contact).filter(invoice=invoice),
            "disputes": invoice.disputes.order_by("-opened_at"),
            "dispute_form": PortalDisputeForm(),
            "notice_form": NoticeForm(
                initial={"date": firm_today(), "amount": invoice.open_amount}
            ),
            "accept": attachments.ACCEPT,
        },
    )


@auth.portal_login_required
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoices(request.contact), pk=pk)  # type: ignore[attr-defined]
    return _download(request, invoice.pdf, f"{invoice.number}.pdf", invoice.number or "")


@auth.portal_login_required
def credit_note_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(selectors.credit_notes(request.contact), pk=pk)  # type: ignore[attr-defined]
    return _download(request, note.pdf, f"{note.number}.pdf", note.number)


def _ubl(request: HttpRequest, subject: Any) -> HttpResponse:
    from invoicing.einvoice import einvoice_file

    try:
        document = einvoice_file(subject, "ubl")
    except BillingError as exc:
        raise Http404(str(exc)) from exc
    services.event_record(contact=request.contact, action="download", detail=document.filename)  # type: ignore[attr-defined]
    response = HttpResponse(document.content, content_type=document.content_type)
    response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@auth.portal_login_required
def invoice_ubl(request: HttpRequest, pk: int) -> HttpResponse:
    """The invoice as a UBL 2.1 e-invoice (Peppol BIS Billing 3.0), for the customer's books."""
    return _ubl(request, get_object_or_404(selectors.invoices(request.contact), pk=pk))  # type: ignore[attr-defined]


@auth.portal_login_required
def credit_note_ubl(request: HttpRequest, pk: int) -> HttpResponse:
    return _ubl(request, get_object_or_404(selectors.credit_notes(request.contact), pk=pk))  # type: ignore[attr-defined]


@auth.portal_login_required
def statement(request: HttpRequest) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    today = firm_today()
    services.event_record(contact=contact, action="download", detail=f"statement {today}")
    response = HttpResponse(
        statement_pdf(account=contact.account, as_of=today), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="statement-{today.isoformat()}.pdf"'
    return response


def _submit(request: HttpRequest, form: Any, invalid: str, write: Callable[[dict], T]) -> T | None:
    """`write` the form's cleaned data (its fields are named as the service's arguments). An
    invalid form (`invalid` says what to enter) or a write the rules refuse is shown as an error
    message and returns None."""
    try:
        if not form.is_valid():
            raise BillingError(invalid)
        return write(form.cleaned_data)
    except BillingError as exc:
        messages.error(request, str(exc))
        return None


@require_POST
@auth.portal_login_required
def notice_new(request: HttpRequest, pk: int) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    invoice = get_object_or_404(selectors.invoices(contact), pk=pk)
    notice = _submit(
        request,
        NoticeForm(request.POST),
        "Enter the day you paid (YYYY-MM-DD) and the amount.",
        lambda data: services.payment_notice_create(contact=contact, invoice=invoice, **data),
    )
    if notice is not None:
        messages.success(request, "Thank you: we will match your payment when it arrives.")
    return redirect("portal:invoice", pk=pk)


# --- disputes ----------------------------------------------------------------------------------


@require_POST
@auth.portal_login_required
def dispute_new(request: HttpRequest, pk: int) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    invoice = get_object_or_404(selectors.invoices(contact), pk=pk)
    ids = request.POST.getlist("lines")
    dispute = _submit(
        request,
        PortalDisputeForm(request.POST),
        "Choose what is wrong and tell us in a message.",
        lambda data: disputes.dispute_open(
            invoice=invoice,
            **data,
            lines=list(invoice.lines.filter(pk__in=[int(x) for x in ids if x.isdigit()])),
            files=request.FILES.getlist("files"),
            customer=contact.email,
        ),
    )
    if dispute is None:
        return redirect("portal:invoice", pk=pk)
    services.event_record(
        contact=contact, action="dispute_opened", detail=f"#{dispute.pk} {invoice.number}"
    )
    messages.success(request, "Your dispute is recorded; we will answer here.")
    return redirect("portal:dispute", pk=dispute.pk)


@auth.portal_login_required
def dispute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dispute = get_object_or_404(selectors.disputes(request.contact), pk=pk)  # type: ignore[attr-defined]
    return _render(
        request,
        "portal/dispute.html",
        {
            "dispute": dispute,
            "label": disputes.category_label(dispute.category),
            "disputed_lines": dispute.lines.order_by("position", "id"),
            "thread": selectors.dispute_thread(dispute),
            "form": PortalMessageForm(),
            "accept": attachments.ACCEPT,
        },
    )


@require_POST
@auth.portal_login_required
def dispute_comment(request: HttpRequest, pk: int) -> HttpResponse:
    contact = request.contact  # type: ignore[attr-defined]
    dispute = get_object_or_404(selectors.disputes(contact), pk=pk)
    sent = _submit(
        request,
        PortalMessageForm(request.POST),
        "Write a message (at most 5000 characters).",
        lambda data: disputes.dispute_comment(
            dispute=dispute,
            **data,
            files=request.FILES.getlist("files"),
            customer=contact.email,
        ),
    )
    if sent is not None:
        services.event_record(contact=contact, action="dispute_message", detail=f"#{dispute.pk}")
        messages.success(request, "Message sent.")
    return redirect("portal:dispute", pk=pk)


@auth.portal_login_required
def dispute_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    found = selectors.attachment(request.contact, pk)  # type: ignore[attr-defined]
    if found is None:
        raise Http404("No such file.")
    services.event_record(
        contact=request.contact,  # type: ignore[attr-defined]
        action="download",
        detail=f"dispute #{found.message.dispute_id} file {found.original_name}",
    )
    return attachments.attachment_response(found)
