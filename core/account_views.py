"""The signed-in user's own account pages: API tokens (list, create once-shown, revoke) and the
password change (which ends the user's tokens and other sessions)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.models import ApiToken
from core.tokens import token_create, token_revoke


class SignedInRequest(HttpRequest):
    user: User  # behind login_required: never the anonymous user


@never_cache  # a new token is on the page
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: SignedInRequest) -> HttpResponse:
    created = None
    if request.method == "POST":
        record, raw = token_create(user=request.user, name=request.POST.get("name", ""))
        created = {"record": record, "token": raw}
    context = {
        "tokens": ApiToken.objects.filter(user=request.user),
        "created": created,
        "now": timezone.now(),
        "ttl_days": settings.BILLABLE_API_TOKEN_TTL_DAYS,
    }
    return render(request, "core/tokens.html", context)


@login_required
@require_POST
def token_revoke_view(request: SignedInRequest, pk: int) -> HttpResponse:
    if token_revoke(user=request.user, pk=pk):
        messages.success(request, "Token revoked: it no longer works.")
    else:
        messages.error(request, "No such token (it may have been revoked or expired already).")
    return redirect("account_tokens")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("account_tokens")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        messages.success(
            self.request,
            "Password changed. Your API tokens and your sessions elsewhere have been ended.",
        )
        return response
