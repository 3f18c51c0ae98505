"""The site's URLs plus one endpoint the permission matrix does not know (a test of the test)."""

from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("brand-new/", lambda request: HttpResponse("new"), name="brand-new"),
    path("", include("billing_site.urls")),
]
