"""All REST endpoints under /api/v1/; each app contributes its routes in <app>/api_urls.py."""

from django.urls import include, path, re_path

from core import api

urlpatterns = [
    path("auth/token/", api.ObtainTokenView.as_view(), name="api-token"),
    path("", include("agreements.api_urls")),
    path("", include("timesheets.api_urls")),
    path("", include("invoicing.api_urls")),
    path("", include("receivables.api_urls")),
    path("", include("portal.api_urls")),
    # Last: anything else under /api/v1/ answers a JSON 404, not the HTML error page.
    re_path(r"^.*$", api.api_not_found, name="api-not-found"),
]
