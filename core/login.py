"""Failed log-in limits, counted per username and (more loosely) per client address (issue 17).

After LOGIN_MAX_FAILURES failures within LOGIN_LOCKOUT_SECONDS for one username, or
LOGIN_MAX_FAILURES_PER_ADDRESS failures from one client address (any usernames), further attempts
are refused without checking the password. So five wrong passwords for one user lock that user
only, not everyone behind the same NAT or proxy; guessing across many usernames from one address
is still stopped.

The limit sits in the authentication backend (`RateLimitedModelBackend`), so every path that
checks a password goes through it: the login page, /admin/login/, the API token endpoint and the
second-factor step. The pages check `is_locked_out` first only to say why (429 and a message).
Counts live in Django's cache (Redis via CACHE_URL in production, so every web process shares
them).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def _normal(username: str | None) -> str:
    return (username or "").strip().lower()[:150]


def client_address(request: Any) -> str:
    meta = getattr(request, "META", None) or {}
    return str(meta.get("REMOTE_ADDR", ""))


def _user_key(username: str | None) -> str:
    # Hashed so that any username (control characters included) makes a valid cache key.
    return "login-fail:user:" + hashlib.sha256(_normal(username).encode()).hexdigest()


def _address_key(address: str) -> str:
    return "login-fail:addr:" + hashlib.sha256(address.encode()).hexdigest()


def _limits(username: str | None, address: str) -> list[tuple[str, int]]:
    return [
        (_user_key(username), int(settings.LOGIN_MAX_FAILURES)),
        (_address_key(address), int(settings.LOGIN_MAX_FAILURES_PER_ADDRESS)),
    ]


def locked_out(username: str | None, address: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _limits(username, address))


def note_failure(username: str | None, address: str) -> None:
    for key, _limit in _limits(username, address):
        if cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def is_locked_out(request: HttpRequest) -> bool:
    return locked_out(request.POST.get("username"), client_address(request))


def lockout_message() -> str:
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    return f"Too many failed log-ins. Try again in {minutes} minute{'' if minutes == 1 else 's'}."


class RateLimitedModelBackend(ModelBackend):
    """ModelBackend that refuses a locked-out username or address before checking the password,
    and counts every wrong password."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        address = client_address(request)
        if locked_out(username, address):
            raise PermissionDenied(lockout_message())  # authenticate() stops at the first refusal
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None and password is not None:
            note_failure(username, address)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return str(get_user_model().USERNAME_FIELD)


class RateLimitedLoginView(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_locked_out(request):
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(form=form, lockout=lockout_message())
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """/admin/login/: the admin's own page, behind the same limit (issue 17 item 13)."""
    if request.method == "POST" and is_locked_out(request):
        context = {**admin.site.each_context(request), "title": "Log in"}
        context["message"] = lockout_message()
        return TemplateResponse(request, "admin/lockout.html", context, status=429)
    return admin.site.login(request, extra_context)
