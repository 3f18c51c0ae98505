from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from agreements.models import Agreement
from billing_site.roles import require


@require("agreements.view")
def agreement_list(request: HttpRequest) -> HttpResponse:
    qs = Agreement.objects.select_related("account", "parent").order_by("external_id")
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(external_id__icontains=q) | qs.filter(account__name__icontains=q) | qs.filter(
            project_code__icontains=q
        )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "agreements/list.html", {"page": page, "q": q})
