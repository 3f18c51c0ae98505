"""Optional TOTP second factor (issue 17 item 17), with django-otp.

Billing admins, finance and superusers may enrol an authenticator app on /accounts/2fa/ (the
page shows the secret and the otpauth:// URI). Once enrolled, a password log-in is only half a
log-in: every page, the admin and session API calls send the user to /accounts/2fa/verify/
until a current code is entered (`SecondFactorMiddleware`), and the API token endpoint wants the
code as `otp`. With BILLABLE_REQUIRE_2FA_SUPERUSERS on, a superuser without a device is sent to
enrol before anything else, and gets no API token (403 from the token endpoint) nor any use of a
token made before (core.tokens.HashedTokenAuthentication). Wrong codes count against the log-in
limit (core.login).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import login, roles

ELIGIBLE_ROLES = {roles.BILLING_ADMIN, roles.FINANCE}
ENROL_FIRST = (
    "Superusers must set up a second factor on /accounts/2fa/ before using the API "
    "(BILLABLE_REQUIRE_2FA_SUPERUSERS)."
)
OPEN_PREFIXES = ("/accounts/2fa/", "/accounts/logout/", "/accounts/login/", "/static/", "/healthz")


def may_enrol(user: Any) -> bool:
    return bool(user.is_superuser or ELIGIBLE_ROLES & set(roles.user_roles(user)))


def must_enrol(user: Any) -> bool:
    return bool(
        settings.BILLABLE_REQUIRE_2FA_SUPERUSERS and user.is_superuser and not user_has_device(user)
    )


def needs_code(user: Any) -> bool:
    """Logged in with a password, enrolled, and this session has not entered a code yet."""
    return bool(user.is_authenticated and not user.is_verified() and user_has_device(user))


def token_code_ok(user: Any, code: str) -> bool:
    """For the API token endpoint: True when the user has no device or `code` is current."""
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    return not devices or any(device.verify_token(code) for device in devices)


class SecondFactorMiddleware:
    """After django_otp's OTPMiddleware: half-logged-in sessions reach only the 2FA pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(OPEN_PREFIXES)
        ):
            target = None
            if needs_code(user):
                target = "two_factor_verify"
            elif must_enrol(user):
                target = "two_factor"
            if target is not None:
                if request.path.startswith("/api/"):
                    from django.http import JsonResponse

                    return JsonResponse(
                        {"detail": "Enter your authentication code first (/accounts/2fa/)."},
                        status=403,
                    )
                return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("home")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not may_enrol(user):
        raise PermissionDenied("A second factor is for billing admins, finance and superusers.")
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if request.method == "POST" and request.POST.get("action") == "remove" and confirmed:
        if must_enrol_if_removed(user):
            messages.error(request, "Superusers must keep a second factor here.")
        elif confirmed.verify_token(request.POST.get("code", "").strip()):
            TOTPDevice.objects.filter(user=user).delete()
            messages.success(request, "Second factor removed.")
        else:
            messages.error(request, "That code is not current; the second factor is kept.")
        return redirect("two_factor")
    if confirmed:
        return render(request, "core/two_factor.html", {"device": confirmed, "enrolled": True})
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    if request.method == "POST":
        if device.verify_token(request.POST.get("code", "").strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            messages.success(request, "Second factor on: log-ins now ask for a code.")
            return redirect(_next(request))
        messages.error(request, "That code is not current. Check the phone's clock and retry.")
    secret = device.config_url.split("secret=", 1)[1].split("&", 1)[0]
    context = {"device": device, "secret": secret, "uri": device.config_url, "enrolled": False}
    return render(request, "core/two_factor.html", context)


def must_enrol_if_removed(user: Any) -> bool:
    return bool(settings.BILLABLE_REQUIRE_2FA_SUPERUSERS and user.is_superuser)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not needs_code(user):
        return redirect(_next(request))
    address = login.client_address(request)
    status = 200
    error = None
    if login.locked_out(user.get_username(), address):
        error, status = login.lockout_message(), 429
    elif request.method == "POST":
        code = request.POST.get("code", "").strip()
        device = next(
            (
                d
                for d in TOTPDevice.objects.filter(user=user, confirmed=True)
                if d.verify_token(code)
            ),
            None,
        )
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        login.note_failure(user.get_username(), address)
        error = "That code is not current. Enter the 6 digits your app shows now."
    context = {"error": error, "next": _next(request)}
    return render(request, "registration/two_factor_verify.html", context, status=status)
