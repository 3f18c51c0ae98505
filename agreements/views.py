from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agreements import selectors
from agreements.services import SOURCES, agreement_import
from core.import_pages import ImportPage, import_view
from core.roles import require


@require("agreements.view")
def agreement_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.agreement_list(q=q), 50).get_page(request.GET.get("page"))
    return render(request, "agreements/list.html", {"page": page, "q": q})


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
