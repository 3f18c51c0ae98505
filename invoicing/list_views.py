"""The invoice list across periods and its bulk send (issue 15). Thin: invoicing.listing reads,
services.invoice_send writes; every view checks its capability on the server."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core import mail
from core.dates import firm_today
from core.errors import BillingError
from core.listing import PAGE_SIZE, PkUrl, csv_response, query_without
from core.roles import require
from invoicing import listing, services
from invoicing.models import Invoice

SENDABLE = sorted(Invoice.FINAL_STATUSES)


def _filtered(request: HttpRequest) -> tuple[listing.InvoiceFilterForm, object]:
    form = listing.InvoiceFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = listing.filtered_invoices(data)
    if form.is_bound and (not form.is_valid() or form.empty_range):
        qs = qs.none()
    return form, qs


@require_GET
@require("invoices.view")
def invoice_list(request: HttpRequest) -> HttpResponseBase:
    form, qs = _filtered(request)
    sort, ordered = listing.sorted_invoices(qs, request.GET.get("sort"))
    if request.GET.get("format") == "csv":
        name = f"invoices-{firm_today():%Y-%m-%d}.csv"
        return csv_response(name, listing.CSV_HEADER, listing.csv_rows(ordered))
    totals = listing.totals_by_currency(qs)
    paginator = Paginator(ordered, PAGE_SIZE)
    # The totals counted the filtered set already: no second COUNT(*) for the pages.
    paginator.count = sum(t.count for t in totals)  # type: ignore[misc]
    page = paginator.get_page(request.GET.get("page"))
    detail = PkUrl("invoicing:detail")  # reversed once, not a {% url %} per row
    for invoice in page:
        invoice.detail_url = detail(invoice.pk)
    return render(
        request,
        "invoicing/list.html",
        {
            "form": form,
            "page": page,
            "totals": totals,
            "sort": sort,
            "sort_query": query_without(request, "sort", "page"),
            "filter_query": query_without(request, "page", "format"),
            "today": firm_today(),
        },
    )


def _send_selection(request: HttpRequest) -> tuple[object, str]:
    """The invoices a bulk send is about: every one matching the filters (`all=1`) or the ticked
    ids, limited to approved ones; plus the query string that names the same selection."""
    params = request.POST if request.method == "POST" else request.GET
    if params.get("all") == "1":
        form = listing.InvoiceFilterForm(params)
        data = form.cleaned_data if form.is_valid() else {}
        qs = listing.filtered_invoices(data) if form.is_valid() and not form.empty_range else None
        keep = [k for k in listing.InvoiceFilterForm.base_fields if k != "sort"] + ["all"]
    else:
        ids = sorted({int(x) for x in params.getlist("ids") if x.isdigit()})
        qs = listing.filtered_invoices({}).filter(pk__in=ids)
        keep = ["ids"]
    query = params.copy()
    for key in list(query.keys()):
        if key not in keep:
            query.pop(key)
    if qs is None:
        qs = Invoice.objects.none()
    return qs.filter(status__in=SENDABLE).order_by("account__name", "number"), query.urlencode()


@require_http_methods(["GET", "POST"])
@require("invoices.manage")
def invoice_bulk_send(request: HttpRequest) -> HttpResponse:
    """GET: what would be sent (count, total per currency, every recipient). POST: send them,
    but only if the selection still has the count the user confirmed."""
    qs, query = _send_selection(request)
    invoices = list(qs)
    # Nobody sees these messages one by one: the invoice template must be approved.
    not_approved = mail.not_approved_reason("invoice")
    if request.method == "POST":
        if not_approved:
            messages.error(request, not_approved + " Nothing was sent.")
            return redirect(f"{reverse('invoicing:bulk_send')}?{query}")
        if not invoices:
            messages.error(request, "No approved invoices were selected; nothing was sent.")
            return redirect("invoicing:list")
        if request.POST.get("confirm_count") != str(len(invoices)):
            messages.error(
                request,
                "The selection changed since you confirmed it; nothing was sent. Check it again.",
            )
            return redirect(f"{reverse('invoicing:bulk_send')}?{query}")
        sent, failed = 0, 0
        for invoice in invoices:
            try:
                services.invoice_send(invoice=invoice, user=request.user)
            except BillingError as exc:
                failed += 1
                messages.error(request, str(exc))
            else:
                sent += 1
        noun = "invoice" if sent == 1 else "invoices"
        messages.success(
            request, f"{sent} {noun} sent" + (f", {failed} not sent." if failed else ".")
        )
        return redirect("invoicing:list")
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        totals[invoice.currency] = totals.get(invoice.currency, Decimal("0.00")) + invoice.total
    return render(
        request,
        "invoicing/bulk_send.html",
        {
            "invoices": invoices,
            "totals": sorted(totals.items()),
            "query": query,
            "no_email": [i for i in invoices if not (i.billing_email or i.account.billing_email)],
            "not_approved": not_approved,
        },
    )
