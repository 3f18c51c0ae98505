"""The site's URLs plus an empty authenticated page: the floor the page benchmarks compare to.

The empty page runs what every page runs (session, authentication, the capability context, the
base template with its navigation) and nothing else."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from billing_site.urls import handler403, handler404, handler500
from billing_site.urls import urlpatterns as site_patterns

_EMPTY = engines["django"].from_string(
    '{% extends "base.html" %}{% block content %}<h1>Empty</h1>{% endblock %}'
)


@login_required
def empty_page(request) -> HttpResponse:
    return HttpResponse(_EMPTY.render({}, request))


urlpatterns = [path("__bench__/empty/", empty_page, name="bench-empty"), *site_patterns]
__all__ = ["urlpatterns", "handler403", "handler404", "handler500"]
