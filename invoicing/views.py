"""Invoice review pages: thin views over invoicing.selectors and invoicing.services.

Every view checks a capability on the server (core.roles.require); changes are POST
only. Auditors see everything read-only; finance views invoices and creates credit notes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from agreements.models import Agreement
from core import settlement
from core.dates import firm_today, parse_period, period_bounds, previous_month
from core.errors import BillingError, flash_outcome, form_errors_text
from core.listing import PkUrl
from core.mail_views import sent_for
from core.money import format_money
from core.roles import has_capability, require
from invoicing import forms, selectors, services
from invoicing.models import ApprovalJob, CreditNote, Invoice, InvoiceLine, InvoiceRun
from invoicing.previews import preview_get
from invoicing.services import approval_batch

# More drafts than this approved at once go to a background job (numbers per batch, PDFs by
# workers); fewer are approved in the request as before.
APPROVE_INLINE_MAX = 20


def _period_from(request: HttpRequest) -> dt.date:
    text = (request.GET.get("period") or request.POST.get("period") or "").strip()
    if text:
        try:
            return parse_period(text)
        except ValueError:
            messages.error(
                request, f"Period must be YYYY-MM, got {text[:20]!r}; showing the default."
            )
    latest = (
        Invoice.objects.filter(status=Invoice.Status.DRAFT)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    return latest or previous_month(firm_today())


def _review_url(period: dt.date) -> str:
    return f"{reverse('invoicing:review')}?period={period:%Y-%m}"


def _run_json(run: InvoiceRun) -> dict:
    return {
        "id": run.pk,
        "period": f"{run.period:%Y-%m}",
        "status": run.status,
        "groups_done": run.groups_done,
        "groups_total": run.groups_total,
        "invoices_created": run.invoices_created,
        "invoices_updated": run.invoices_updated,
        "entries_billed": run.entries_billed,
        "error": run.error,
    }


REVIEW_PAGE_SIZE = 50


@require_GET
@require("invoices.view")
def review(request: HttpRequest) -> HttpResponse:
    """Drafts and approved invoices of a period, 50 of each per page (`page`, `approved_page`),
    totals only: lines are on the detail page. A fixed number of queries whatever the number of
    invoices (annotations, and flag warnings for the shown drafts in one query)."""
    period = _period_from(request)
    counts = selectors.period_counts(period)  # both pagers' counts in one query
    pagers = (
        Paginator(selectors.drafts_for_period(period), REVIEW_PAGE_SIZE),
        Paginator(
            selectors.invoices_for_period(period, sorted(Invoice.FINAL_STATUSES)),
            REVIEW_PAGE_SIZE,
        ),
    )
    pagers[0].count, pagers[1].count = counts["drafts"], counts["final"]  # type: ignore[misc]
    drafts = pagers[0].get_page(request.GET.get("page"))
    final = pagers[1].get_page(request.GET.get("approved_page"))
    rejected = list(selectors.rejected_for_period(period))
    warnings = selectors.flagged_entries([d.pk for d in drafts])
    for d in drafts:
        d.warnings = warnings.get(d.pk, [])
    _link_rows(drafts, final, rejected)
    run = selectors.latest_run(period)
    return render(
        request,
        "invoicing/review.html",
        {
            "period": period,
            "period_label": f"{period:%B %Y}",
            "period_last": period_bounds(period)[1],
            "period_open": period_bounds(period)[1] > firm_today(),
            "drafts": drafts,
            "page": drafts,
            "final": final,
            "run": run,
            "rejected": rejected,
            "run_json": _run_json(run) if run else None,
        },
    )


def _link_rows(
    drafts: Iterable[Invoice], final: Iterable[Invoice], rejected: list[Invoice]
) -> None:
    """Each shown invoice's links (`detail_url`, and `mail_url` and `pdf_url` on finals), each
    kind reversed once for the page (core.listing.PkUrl) instead of a `{% url %}` per row."""
    detail, mail, pdf = (PkUrl(f"invoicing:{name}") for name in ("detail", "mail", "pdf"))
    for invoice in [*drafts, *rejected]:
        invoice.detail_url = detail(invoice.pk)
    for invoice in final:
        invoice.detail_url = detail(invoice.pk)
        invoice.mail_url = mail(invoice.pk)
        invoice.pdf_url = pdf(invoice.pk)


def _detail_context(request: HttpRequest, invoice: Invoice, **forms_in) -> dict:
    lines = list(invoice.lines.all())
    adjustments = list(invoice.adjustments.select_related("user"))
    warnings = selectors.flagged_entries([invoice.pk]).get(invoice.pk, [])
    agreements = Agreement.objects.filter(
        account_id=invoice.account_id, currency=invoice.currency
    ).order_by("external_id")
    return {
        "invoice": invoice,
        "lines": lines,
        "warnings": warnings,
        "credit_notes": list(invoice.credit_notes.all()),
        "sent_mails": list(sent_for(invoice_id=invoice.pk)),
        "can_manage": has_capability(request.user, "invoices.manage") and invoice.is_editable,
        "can_send": has_capability(request.user, "invoices.manage") and invoice.is_final,
        "can_credit": has_capability(request.user, "credit_notes.create")
        and invoice.is_final
        and invoice.open_amount > 0,
        "adjustments": adjustments,
        "self_adjusted": any(a.user_id == request.user.pk for a in adjustments),
        "add_form": forms_in.get("add_form") or forms.LineAddForm(agreements=agreements),
        "reject_form": forms_in.get("reject_form") or forms.RejectForm(),
        "notes_form": forms.NotesForm(initial={"notes": invoice.notes, "terms": invoice.terms}),
        "credit_form": forms_in.get("credit_form") or forms.CreditNoteForm(),
    }


@require_GET
@require("invoices.view")
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        invoice = selectors.invoice_with_lines(pk)
    except Invoice.DoesNotExist:
        raise Http404("No such invoice.") from None
    return render(request, "invoicing/detail.html", _detail_context(request, invoice))


@require_GET
@require("invoices.view")
@xframe_options_sameorigin  # shown inline in the review screen's <iframe>
def invoice_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("account"), pk=pk)
    if invoice.is_final and invoice.pdf:
        response = FileResponse(invoice.pdf.open("rb"), content_type="application/pdf")
        name = f"{invoice.number}.pdf"
    else:  # a draft (or rejected) invoice: its cached preview, watermarked
        content = None if invoice.is_final else preview_get(invoice)
        if content is None:
            return _pdf_pending(request, invoice)
        response = HttpResponse(content, content_type="application/pdf")
        name = f"draft-{invoice.pk}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _pdf_pending(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    """202 while a worker renders: the final PDF after approval, or a large draft's preview."""
    what = "final PDF" if invoice.is_final else "preview"
    response = render(
        request, "invoicing/pdf_pending.html", {"invoice": invoice, "what": what}, status=202
    )
    response["Retry-After"] = "5"
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@require("invoices.view")
@xframe_options_sameorigin
def credit_note_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(CreditNote, pk=pk)
    if not note.pdf:
        raise Http404("This credit note has no PDF.")
    response = FileResponse(note.pdf.open("rb"), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{note.number}.pdf"'
    return response


@require_GET
@require("invoices.view")
def invoice_einvoice_view(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """Download an approved invoice's e-invoice (SPEC 3.2): ubl, cii or facturx."""
    invoice = get_object_or_404(Invoice.objects.select_related("account"), pk=pk)
    return _einvoice_download(request, invoice, fmt)


@require_GET
@require("invoices.view")
def credit_note_einvoice_view(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    note = get_object_or_404(CreditNote.objects.select_related("invoice__account"), pk=pk)
    return _einvoice_download(request, note, fmt)


def _einvoice_download(
    request: HttpRequest, subject: Invoice | CreditNote, fmt: str
) -> HttpResponse:
    from invoicing.einvoice import FORMATS, RETRY_AFTER_SECONDS, EInvoiceRendering, einvoice_file

    if fmt not in FORMATS or (isinstance(subject, Invoice) and not subject.is_final):
        raise Http404("No such e-invoice: only approved invoices and credit notes have one.")
    try:
        file = einvoice_file(subject, fmt)
    except EInvoiceRendering as exc:
        # 503 + Retry-After, a page that says so and reloads until the final PDF is stored.
        response = render(
            request,
            "invoicing/pdf_pending.html",
            {"invoice": subject, "what": "Factur-X PDF", "message": str(exc)},
            status=503,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "private, no-store"
        return response
    response = HttpResponse(file.content, content_type=file.content_type)
    response["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    return response


def _version(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _done(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    return redirect("invoicing:detail", pk=invoice.pk)


@require_POST
@require("invoices.manage")
def approve(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    version = _version(request.POST.get("version"))
    if version is None:
        messages.error(request, "Approval names the version you reviewed; reload the draft.")
        return _done(request, invoice)
    flash_outcome(
        request,
        lambda: services.invoice_approve(invoice=invoice, user=request.user, version=version),
        lambda approved: f"Approved as {approved.number}.",
    )
    return _done(request, invoice)


@require_POST
@require("invoices.manage")
def approve_many(request: HttpRequest) -> HttpResponse:
    period = _period_from(request)
    versions: dict[int, int] = {}
    for value in request.POST.getlist("ids"):  # "id:version", as the review page showed them
        pk, _, seen = value.partition(":")
        version = _version(seen)
        if pk.isdigit() and version is not None:
            versions[int(pk)] = version
    if not versions:
        messages.error(request, "Select the drafts to approve.")
    if len(versions) > APPROVE_INLINE_MAX:  # a period's worth: a background job (issue 16)
        job = approval_batch.approval_job_start(
            period=period or firm_today(), user=request.user, versions=versions
        )
        messages.success(
            request,
            f"Approving {job.total} drafts in the background (job {job.pk}); each invoice "
            "shows 'rendering' until its PDF is stored and can be sent once it is ready.",
        )
        return redirect(_review_url(period))
    for invoice in Invoice.objects.filter(pk__in=versions).order_by("id"):
        try:
            done = services.invoice_approve(
                invoice=invoice, user=request.user, version=versions[invoice.pk]
            )
        except BillingError as exc:
            messages.error(request, f"Draft #{invoice.pk}: {exc}")
        else:
            messages.success(request, f"Draft #{invoice.pk} approved as {done.number}.")
    return redirect(_review_url(period))


@require_POST
@require("invoices.manage")
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    form = forms.RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A reason is required to reject a draft.")
        return _done(request, invoice)
    flash_outcome(
        request,
        lambda: services.invoice_reject(
            invoice=invoice, user=request.user, reason=form.cleaned_data["reason"]
        ),
        lambda _: f"Draft #{invoice.pk} rejected; its entries are back in the pool.",
    )
    return _done(request, invoice)


@require_POST
@require("invoices.manage")
def adjust_line(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(InvoiceLine.objects.select_related("invoice"), pk=pk)
    form = forms.LineAdjustForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not adjusted: {form_errors_text(form)}")
        return _done(request, line.invoice)
    data = form.cleaned_data
    flash_outcome(
        request,
        lambda: services.invoice_line_adjust(
            line=line,
            user=request.user,
            reason=data["reason"],
            amount=data["amount"],
            description=data["description"] or None,
        ),
        lambda _: "Line adjusted. Another billing admin must approve this draft.",
    )
    return _done(request, line.invoice)


@require_POST
@require("invoices.manage")
def add_line(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    agreements = Agreement.objects.filter(account_id=invoice.account_id, currency=invoice.currency)
    form = forms.LineAddForm(request.POST, agreements=agreements)
    if not form.is_valid():
        messages.error(request, f"Not added: {form_errors_text(form)}")
        return _done(request, invoice)
    data = form.cleaned_data
    flash_outcome(
        request,
        lambda: services.invoice_line_add(
            invoice=invoice,
            user=request.user,
            reason=data["reason"],
            description=data["description"],
            amount=data["amount"],
            tax_rate=data["tax_rate"],
            agreement=agreements.get(pk=data["agreement"]) if data["agreement"] else None,
        ),
        lambda _: "Line added. Another billing admin must approve this draft.",
    )
    return _done(request, invoice)


@require_POST
@require("invoices.manage")
def edit_notes(request: HttpRequest, pk: int) -> HttpResponse:
    """Notes and payment terms of a draft (billing admin)."""
    invoice = get_object_or_404(Invoice, pk=pk)
    form = forms.NotesForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not saved: {form_errors_text(form)}")
        return _done(request, invoice)
    flash_outcome(
        request,
        lambda: services.invoice_notes_set(
            invoice=invoice,
            user=request.user,
            notes=form.cleaned_data["notes"],
            terms=form.cleaned_data["terms"],
        ),
        lambda _: "Notes and payment terms saved.",
    )
    return _done(request, invoice)


@require_POST
@require("invoices.manage")
def send(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    flash_outcome(
        request,
        lambda: services.invoice_send(invoice=invoice, user=request.user),
        lambda sent: f"{sent.number} sent to {sent.sent_to}.",
    )
    if request.POST.get("next") == "review":
        return redirect(_review_url(invoice.period))
    return _done(request, invoice)


@require_POST
@require("credit_notes.create")
def credit_note(request: HttpRequest, pk: int) -> HttpResponse:
    """Two steps, like every other write a person cannot take back: the form's POST shows the
    amount, reason, date and what stays open, and writes nothing; the confirmation's POST (the
    same values and confirm=1) creates and numbers the credit note."""
    invoice = get_object_or_404(Invoice, pk=pk)
    form = forms.CreditNoteForm(request.POST)
    if form.is_valid() and request.POST.get("confirm") != "1":
        data = form.cleaned_data
        open_amount = settlement.open_amount(invoice)
        return render(
            request,
            "invoicing/credit_note_confirm.html",
            {
                "invoice": invoice,
                "form": form,
                "amount": data["amount"],
                "reason": data["reason"],
                "date": data["date"] or firm_today(),
                "open_amount": open_amount,
                "open_after": open_amount - data["amount"],
            },
        )
    if not form.is_valid():
        messages.error(request, f"No credit note: {form_errors_text(form)}")
        return _done(request, invoice)
    data = form.cleaned_data
    flash_outcome(
        request,
        lambda: services.credit_note_create(
            invoice=invoice,
            amount=data["amount"],
            reason=data["reason"],
            user=request.user,
            date=data["date"],
        ),
        lambda note: (
            f"Credit note {note.number} created for {format_money(note.amount, note.currency)}."
        ),
    )
    return _done(request, invoice)


@require_POST
@require("invoices.manage")
def run_start(request: HttpRequest) -> HttpResponse:
    period = _period_from(request)
    try:
        run = services.invoice_run_start(period=period, user=request.user)
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect(_review_url(period))
    run.refresh_from_db()  # in-process (no broker) the run has finished already
    if run.status == InvoiceRun.Status.FAILED:
        messages.error(request, f"The invoice run failed: {run.error}")
    else:
        messages.success(request, f"Invoice run for {period:%B %Y} started.")
    return redirect(_review_url(period))


@require_GET
@require("invoices.view")
def approval_job_status(request: HttpRequest, pk: int) -> JsonResponse:
    job = get_object_or_404(ApprovalJob, pk=pk)
    return JsonResponse(approval_batch.approval_job_progress(job))


@require_GET
@require("invoices.view")
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(InvoiceRun, pk=pk)
    return JsonResponse(_run_json(run))
