from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing_site.roles import require


@require("flags.view")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "timesheets/dashboard.html", {})
