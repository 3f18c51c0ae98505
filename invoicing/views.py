from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing_site.roles import require
from invoicing.models import Invoice


@require("invoices.view")
def review(request: HttpRequest) -> HttpResponse:
    drafts = Invoice.objects.filter(status="draft").select_related("account")[:200]
    return render(request, "invoicing/review.html", {"invoices": drafts})
