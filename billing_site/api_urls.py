"""All REST endpoints under /api/v1/; each app contributes its routes in <app>/api_urls.py."""

from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("auth/token/", obtain_auth_token, name="api-token"),
    path("", include("agreements.api_urls")),
    path("", include("timesheets.api_urls")),
    path("", include("invoicing.api_urls")),
    path("", include("receivables.api_urls")),
]
