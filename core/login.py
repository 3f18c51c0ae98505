"""Login with a failed-attempt limit per username and per client address.

After LOGIN_MAX_FAILURES failures within LOGIN_LOCKOUT_SECONDS for the same username (or the same
address), further attempts are refused with a message saying when to retry, without checking the
password. Counts live in Django's cache (Redis via CACHE_URL in production, so every web process
shares them).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse


def _keys(request: HttpRequest) -> list[str]:
    # Hashed so that any username (control characters included) makes a valid cache key.
    username = (request.POST.get("username") or "").strip().lower()[:150]
    address = request.META.get("REMOTE_ADDR", "")
    return [
        "login-fail:user:" + hashlib.sha256(username.encode()).hexdigest(),
        "login-fail:addr:" + hashlib.sha256(address.encode()).hexdigest(),
    ]


def is_locked_out(request: HttpRequest) -> bool:
    return any((cache.get(key) or 0) >= settings.LOGIN_MAX_FAILURES for key in _keys(request))


def record_failure(request: HttpRequest) -> None:
    for key in _keys(request):
        if cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


class RateLimitedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_locked_out(request):
            minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(
                form=form,
                lockout=f"Too many failed log-ins. Try again in {minutes} minutes.",
            )
            return self.render_to_response(context, status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form was re-shown: wrong credentials
            record_failure(request)
        return response
