"""Site-wide pages: home (each role's landing page), health check, error pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    for role in roles.ROLES_BY_PRIORITY:
        if role in roles.user_roles(request.user):
            return redirect(roles.HOME_PAGES[role])
    return render(request, "home_norole.html", status=403)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker reachability, for load balancers and `docker compose` health checks,
    with the database engine and server version (the demo runs on the same engine as production)."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            (version,) = cursor.fetchone()
        checks["database"] = "ok"
        checks["database_engine"] = connection.display_name
        checks["database_version"] = version
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.CELERY_BROKER_URL:
        try:
            from celery import current_app as app

            with app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {type(exc).__name__}"
    else:
        checks["broker"] = "in-process (no CELERY_BROKER_URL)"
    healthy = not any(v.startswith("error") for v in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = (
        str(exception) if exception and str(exception) else "Your role may not open this page."
    )
    return render(request, "403.html", {"message": message}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
