"""The OpenAPI schema and the Swagger UI page, for logged-in users only (issue 17 item 16),
with Swagger UI's files served from this site (drf-spectacular-sidecar, issue 17 item 15)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer


class SchemaView(SpectacularAPIView):
    """GET /api/schema/: 401 without a token or session."""

    permission_classes = [IsAuthenticated]

    def handle_exception(self, exc: Exception) -> Any:
        response = super().handle_exception(exc)
        # An error is plain JSON like every other API error, not an OpenAPI document type.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return response


class DocsView(SpectacularSwaggerSplitView):
    """GET /api/docs/: the page and its start script (`?script=`) as separate answers, so the
    page runs under the site's Content-Security-Policy without an inline script."""

    permission_classes = [IsAuthenticated]

    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().get(request, *args, **kwargs)
        # drf-spectacular's page template has a small inline <style>.
        response.csp_extra = {"style-src": "'self' 'unsafe-inline'"}
        return response


schema_view = SchemaView.as_view()
# A browser without a session is sent to the login page (and back).
docs_view = login_required(DocsView.as_view(url_name="schema"))
