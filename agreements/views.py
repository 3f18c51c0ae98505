from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from agreements import selectors
from agreements.exports import EXPORT_COLUMNS, agreement_export_rows
from agreements.services import SOURCES, agreement_import
from core.dates import firm_today
from core.import_pages import ImportPage, import_view
from core.listing import PAGE_SIZE, csv_response, query_without
from core.roles import require


@require_GET
@require("agreements.view")
def agreement_list(request: HttpRequest) -> HttpResponseBase:
    form = selectors.AgreementFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    qs = selectors.agreement_list(data)
    if form.is_bound and (not form.is_valid() or form.empty_range):
        qs = qs.none()
    sort, ordered = selectors.sorted_agreements(qs, request.GET.get("sort"))
    if request.GET.get("format") == "csv":
        rows = ([row[c] for c in EXPORT_COLUMNS] for row in agreement_export_rows(ordered))
        return csv_response(f"agreements-{firm_today():%Y-%m-%d}.csv", EXPORT_COLUMNS, rows)
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "agreements/list.html",
        {
            "form": form,
            "page": page,
            "sort": sort,
            "sort_query": query_without(request, "sort", "page", "format"),
            "filter_query": query_without(request, "page", "format"),
        },
    )


# --- the upload page (core.import_pages) ------------------------------------------------------


AGREEMENTS_PAGE = ImportPage(
    kind="agreements",
    title="Import agreements",
    url_name="agreements:import",
    sources=SOURCES,
    run=agreement_import,
    noun="agreements",
)


@require("agreements.import")
def agreement_import_page(request: HttpRequest) -> HttpResponse:
    return import_view(request, AGREEMENTS_PAGE)
