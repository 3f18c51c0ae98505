from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing_site.roles import require


@require("aging.view")
def aging(request: HttpRequest) -> HttpResponse:
    return render(request, "receivables/aging.html", {})
