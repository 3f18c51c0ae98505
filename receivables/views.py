"""Finance pages (finance acts, auditor reads). Thin: forms validate, services write, selectors read."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from agreements.models import Account
from core import csvio, import_jobs
from core.dates import firm_today
from core.errors import BillingError, flash_outcome
from core.listing import PkUrl
from core.money import format_money
from core.roles import has_capability, require
from invoicing.models import CreditNote, Invoice
from receivables import payment_entry, payment_uploads, selectors, services
from receivables.aging import BUCKETS, aging_report
from receivables.aging_page import cached_aging_page
from receivables.exports import aging_pdf, statement_pdf
from receivables.forms import (
    ApplyForm,
    AsOfForm,
    AssignForm,
    DisputeOpenForm,
    PaymentForm,
    ReasonForm,
    UploadForm,
)
from receivables.models import Allocation, Payment

UPLOAD_DIR = "imports/payments"
AGING_PAGE_SIZE = 100


def _as_of(request: HttpRequest) -> tuple[AsOfForm, dt.date]:
    form = AsOfForm(
        request.GET if "as_of" in request.GET else None, initial={"as_of": firm_today()}
    )
    return form, form.as_of_or_today()


# --- AR aging -------------------------------------------------------------------------------------


@require("aging.view")
def aging(request: HttpRequest) -> HttpResponse:
    """The report's rows a page at a time (the totals and the exports are the whole report's),
    from the cache while nothing the report reads has changed (receivables/aging_page.py)."""
    form, as_of = _as_of(request)
    page, totals = cached_aging_page(
        as_of=as_of, number=request.GET.get("page"), size=AGING_PAGE_SIZE
    )
    statement_url = PkUrl("receivables:statement")  # reversed once, not a {% url %} per row
    links = [(row, statement_url(row.account_id)) for row in page]
    return render(
        request,
        "receivables/aging.html",
        {
            "form": form,
            "as_of": as_of,
            "totals": totals,
            "page": page,
            "links": links,
            "buckets": BUCKETS,
        },
    )


@require("aging.view")
def aging_export(request: HttpRequest) -> HttpResponse:
    form, as_of = _as_of(request)
    if form.is_bound and not form.is_valid():
        return HttpResponseBadRequest("as_of must be a date as YYYY-MM-DD.")
    fmt = request.GET.get("format", "csv")
    report = aging_report(as_of=as_of)
    name = f"ar-aging-{as_of.isoformat()}"
    if fmt == "csv":
        response = HttpResponse(report.to_csv(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(
            report.to_xlsx(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "pdf":
        response = HttpResponse(aging_pdf(report), content_type="application/pdf")
    elif fmt == "json":
        response = HttpResponse(report.to_json(), content_type="application/json")
    else:
        raise Http404("Unknown format")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@require("aging.view")
def accounting_export(request: HttpRequest) -> HttpResponse:
    """Approved invoices and credit notes of a date range for QuickBooks, Xero or DATEV
    (SPEC 5 export_accounting): the form, or the file when a format is given."""
    from invoicing.accounting import FORMATS, accounting_export

    today = firm_today()
    start_text = request.GET.get("from") or today.replace(day=1).isoformat()
    end_text = request.GET.get("to") or today.isoformat()
    fmt = request.GET.get("format", "")
    context = {"start": start_text, "end": end_text, "formats": FORMATS, "error": ""}
    if fmt:
        try:
            start, end = csvio.parse_date(start_text), csvio.parse_date(end_text)
            file = accounting_export(fmt=fmt, start=start, end=end)
        except (csvio.FieldError, BillingError) as exc:
            context["error"] = str(exc)
        else:
            response = HttpResponse(file.content, content_type=file.content_type)
            response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
            return response
    return render(request, "receivables/accounting.html", context)


@require("aging.view")
def aging_detail(request: HttpRequest, account_pk: int, currency: str) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_pk)
    _form, as_of = _as_of(request)
    invoices = selectors.aging_invoices(account=account, currency=currency, as_of=as_of)
    payments = selectors.aging_payments(account=account, currency=currency, as_of=as_of)
    return render(
        request,
        "receivables/aging_detail.html",
        {
            "account": account,
            "currency": currency,
            "as_of": as_of,
            "invoices": invoices,
            "payments": payments,
        },
    )


@require("aging.view")
def statement(request: HttpRequest, account_pk: int) -> HttpResponse:
    account = get_object_or_404(Account, pk=account_pk)
    _form, as_of = _as_of(request)
    response = HttpResponse(
        statement_pdf(account=account, as_of=as_of), content_type="application/pdf"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{account.pk}-{as_of.isoformat()}.pdf"'
    )
    return response


# --- payments -------------------------------------------------------------------------------------


@require("payments.view")
def payments(request: HttpRequest) -> HttpResponse:
    get = request.GET
    date_errors: list[str] = []
    date_from = _date_param(get, "from", date_errors)
    date_to = _date_param(get, "to", date_errors)
    qs = selectors.payment_list(
        q=get.get("q", "").strip(),
        account=get.get("account", "").strip(),
        date_from=date_from,
        date_to=date_to,
        unapplied_only=get.get("unapplied") == "1",
        unassigned_only=get.get("unassigned") == "1",
    )
    empty_range = bool(date_from and date_to and date_from > date_to)
    if empty_range:
        qs = qs.none()
    page = Paginator(qs, 50).get_page(get.get("page"))
    return render(
        request,
        "receivables/payments.html",
        {"page": page, "filters": get, "empty_range": empty_range, "date_errors": date_errors},
    )


def _date_param(get: Any, name: str, errors: list[str]) -> dt.date | None:
    """A date filter of the payments list; a bad one is named on the page and ignored."""
    text = (get.get(name) or "").strip()
    if not text:
        return None
    try:
        return csvio.parse_date(text)
    except csvio.FieldError as exc:
        errors.append(f"{name.capitalize()}: {exc}")
        return None


@require("payments.manage")
def payment_new(request: HttpRequest) -> HttpResponse:
    """Record a payment: pick the customer, then its currency and the invoices to pay first. A
    payment like one already recorded (customer, amount, date) is shown and asked about first."""
    initial = {"date": firm_today(), "currency": "USD"}
    if request.method == "GET":
        # The picker reloads the form for the chosen customer, keeping what was typed.
        initial |= {k: v for k, v in request.GET.items() if k in PaymentForm.base_fields and v}
    form = PaymentForm(request.POST if request.method == "POST" else None, initial=initial)
    duplicates: list[Payment] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        duplicates = payment_entry.likely_duplicates(
            account=data["account"],
            currency=data["currency"],
            amount=data["amount"],
            date=data["date"],
        )
        if not duplicates or data["confirm_duplicate"]:
            return _payment_record(request, form)
    context = {
        "form": form,
        "accounts": payment_entry.picker_accounts(),
        "duplicates": duplicates,
        "today": firm_today(),
    }
    if request.GET.get("part") == "account":
        return render(request, "receivables/_payment_account_part.html", context)
    return render(request, "receivables/payment_form.html", context)


def _payment_record(request: HttpRequest, form: PaymentForm) -> HttpResponse:
    data = form.cleaned_data
    try:
        payment = services.payment_record(
            account=data["account"],
            date=data["date"],
            amount=data["amount"],
            currency=data["currency"],
            reference=data["reference"],
            method=data["method"],
            user=request.user,
            external_id=data["external_id"] or None,
        )
    except BillingError as exc:
        form.add_error(None, str(exc))
        context = {
            "form": form,
            "accounts": payment_entry.picker_accounts(),
            "duplicates": [],
            "today": firm_today(),
        }
        return render(request, "receivables/payment_form.html", context)
    messages.success(request, f"Payment {payment.external_id} recorded.")
    return redirect("receivables:payment", pk=payment.pk)


@require("payments.view")
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(
        selectors.annotate_unapplied(Payment.objects.select_related("account", "created_by")), pk=pk
    )
    allocations = payment.allocations.select_related("invoice", "created_by", "reversed_by")
    open_invoices = []
    if (
        payment.account is not None
        and payment.unapplied > 0
        and has_capability(request.user, "payments.manage")
    ):
        open_invoices = list(
            selectors.open_invoices(account=payment.account, currency=payment.currency).filter(
                disputed=False
            )[:100]
        )
    return render(
        request,
        "receivables/payment_detail.html",
        {
            "payment": payment,
            "allocations": allocations,
            "open_invoices": open_invoices,
            "assign_form": AssignForm() if payment.account is None else None,
        },
    )


@require("payments.view")
def unassigned(request: HttpRequest) -> HttpResponse:
    """Statement credits whose payer was not recognised: finance assigns each to an account."""
    page = Paginator(selectors.unassigned_payments(), 50).get_page(request.GET.get("page"))
    return render(request, "receivables/unassigned.html", {"page": page, "form": AssignForm()})


@require_POST
@require("payments.manage")
def payment_assign(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(Payment, pk=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["account"]))
        return redirect("receivables:payment", pk=pk)
    flash_outcome(
        request,
        lambda: services.payment_assign(
            payment=payment, account=form.cleaned_data["account"], user=request.user
        ),
        lambda done: (
            f"Payment {done.external_id} assigned to {done.account} and applied; "
            "the payer is remembered for the next statement."
        ),
    )
    return redirect("receivables:payment", pk=pk)


@require_POST
@require("payments.manage")
def payment_apply(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(Payment, pk=pk)
    form = ApplyForm(request.POST)
    if form.is_valid():
        invoice = get_object_or_404(Invoice, pk=form.cleaned_data["invoice"])
        flash_outcome(
            request,
            lambda: services.allocation_apply(
                payment=payment,
                invoice=invoice,
                amount=form.cleaned_data["amount"],
                user=request.user,
            ),
            lambda _: (
                f"Applied {format_money(form.cleaned_data['amount'], payment.currency)} "
                f"to {invoice.number}."
            ),
        )
    else:
        messages.error(request, "Enter an amount greater than zero with at most 2 decimals.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("receivables:payment", args=[pk])
    return redirect(target)


@require_POST
@require("payments.manage")
def allocation_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    allocation = get_object_or_404(Allocation, pk=pk)
    form = ReasonForm(request.POST)
    if form.is_valid():
        flash_outcome(
            request,
            lambda: services.allocation_reverse(
                allocation=allocation, user=request.user, reason=form.cleaned_data["reason"]
            ),
            lambda _: "Allocation reversed; the amount is unapplied cash again.",
        )
    else:
        messages.error(request, "A reason is required to reverse an allocation.")
    return redirect("receivables:payment", pk=allocation.payment_id)


@require("payments.view")
def unapplied(request: HttpRequest) -> HttpResponse:
    rows = selectors.unapplied_cash()
    can_manage = has_capability(request.user, "payments.manage")
    if can_manage:
        groups = payment_entry.open_invoices_by_group({(r.account.pk, r.currency) for r in rows})
        for row in rows:
            row.open_invoices = groups[(row.account.pk, row.currency)]
    return render(request, "receivables/unapplied.html", {"rows": rows})


@require("payments.manage")
def payment_upload(request: HttpRequest) -> HttpResponse:
    """Upload a payments file: a dry run first (counts, the first payments as they will be
    stored, notices), then "Import" reads it with the same options (SPEC 1.4). A CSV header that
    lacks required columns opens the mapping form of every upload page (core.import_pages). A
    file over IMPORT_BACKGROUND_ROWS is checked and imported on the worker (payment_uploads)."""
    if request.method == "GET" and "checked" in request.GET:  # a large file's background check
        if (found := payment_uploads.checked(request, request.GET["checked"])) is None:
            messages.error(request, "That check has expired; upload the file again.")
            return redirect("receivables:payment_upload")
        return _payment_preview(request, UploadForm(), *found)
    if request.method == "POST" and "token" in request.POST:
        return _payment_upload_answer(request, request.POST["token"])
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        return _payment_upload_store(request, form)
    return render(request, "receivables/payment_upload.html", {"form": form})


def _payment_upload_answer(request: HttpRequest, token: str) -> HttpResponse:
    """The answer to a stored upload's preview: cancel, choose a mapping, or import it."""
    from core.import_pages import mapping_choice, options_from_choices
    from receivables.sources import SOURCES

    key = f"payment_upload_{token}"
    path = payment_uploads.upload_path(request, token)
    if path is None:
        messages.error(request, "That upload has expired; upload the file again.")
        return redirect("receivables:payment_upload")
    choices = request.session.get(f"{key}_choices", {})
    name = request.session.get(f"{key}_name", "")
    if "cancel" in request.POST:
        payment_uploads.forget(request, token)
        messages.info(request, "Upload cancelled; nothing was written.")
        return redirect("receivables:payment_upload")
    if "save_mapping" in request.POST or "use_mapping" in request.POST:
        mapping = mapping_choice(
            request, kind="payments", sources=SOURCES, layout="", choices=choices
        )
        if mapping:
            choices = {**choices, "mapping": mapping}
            request.session[f"{key}_choices"] = choices
        return _payment_preview(request, UploadForm(), token, path, choices, name)
    if import_jobs.is_large(str(path)):
        return payment_uploads.start(request, token=token, path=path, choices=choices,
                                     name=name, dry_run=False)  # fmt: skip
    result = services.payment_import(
        file=path, user=request.user, options=options_from_choices("payments", SOURCES, choices),
        file_name=name,
    )  # fmt: skip
    if result.ok:
        payment_uploads.forget(request, token)
        messages.success(
            request,
            f"Payments imported: {result.created} created, {result.unchanged} unchanged.",
        )
        return redirect("receivables:payments")
    return render(
        request, "receivables/payment_upload.html", {"form": UploadForm(), "result": result}
    )


def _payment_upload_store(request: HttpRequest, form: UploadForm) -> HttpResponse:
    """A new upload: the file stored under a token with its choices, then its dry run."""
    upload = form.cleaned_data["file"]
    choices = form.choices()
    choices["source"] = choices["source"] or "auto"
    token = uuid.uuid4().hex
    target = Path(settings.MEDIA_ROOT) / UPLOAD_DIR / f"{token}.upload"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    request.session[f"payment_upload_{token}"] = str(target)
    request.session[f"payment_upload_{token}_choices"] = choices
    request.session[f"payment_upload_{token}_name"] = upload.name[:200]
    return _payment_preview(request, form, token, target, choices, upload.name)


def _payment_preview(
    request: HttpRequest, form: UploadForm, token: str, path: Path, choices: dict[str, str],
    filename: str, result: Any = None,
) -> HttpResponse:  # fmt: skip
    """A stored upload's dry run (on the worker for a large file, whose ``result`` then comes
    back here): the preview, the mapping form, or every problem (forgotten)."""
    from core.import_pages import mapping_context, options_from_choices
    from receivables.sources import SOURCES

    if result is None and import_jobs.is_large(str(path)):
        return payment_uploads.start(request, token=token, path=path, choices=choices,
                                     name=filename, dry_run=True)  # fmt: skip
    options = options_from_choices("payments", SOURCES, choices)
    if result is None:
        result = services.payment_import(file=path, user=request.user, dry_run=True,
                                         options=options)  # fmt: skip
    context: dict[str, Any] = {"form": form, "result": result, "filename": filename}
    if result.unknown_header:
        # Kept: the mapping form checks the same file again.
        context.update(mapping_context("payments", SOURCES, options, result), token=token)
    elif result.ok:
        context["token"] = token
    else:
        payment_uploads.forget(request, token)
    return render(request, "receivables/payment_upload.html", context)


# --- invoices: receivables view and disputes ------------------------------------------------------


@require("payments.view")
def invoice(request: HttpRequest, pk: int) -> HttpResponse:
    inv = get_object_or_404(
        selectors.annotate_open_amount(Invoice.objects.select_related("account")), pk=pk
    )
    return render(
        request,
        "receivables/invoice.html",
        {
            "invoice": inv,
            "allocations": inv.allocations.select_related("payment", "reversed_by").order_by(
                "date", "id"
            ),
            "credit_notes": CreditNote.objects.filter(invoice=inv).order_by("date", "number"),
            "reminders": inv.reminders.order_by("sent_on", "level"),
            "disputes": inv.disputes.order_by("-opened_at"),
            "dispute_form": DisputeOpenForm(),
            "lines": inv.lines.order_by("position", "id"),
        },
    )


@require_POST
@require("disputes.manage")
def invoice_dispute_clear(request: HttpRequest, pk: int) -> HttpResponse:
    inv = get_object_or_404(Invoice, pk=pk)
    flash_outcome(
        request,
        lambda: services.invoice_dispute_clear(invoice=inv, user=request.user),
        lambda _: f"Dispute on {inv.number} cleared.",
    )
    return redirect("receivables:invoice", pk=pk)
