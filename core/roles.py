"""Roles (SPEC section 7) and the one table of what each may do.

Every page and API endpoint checks a capability from CAPABILITIES on the server; the navigation
only hides what the server would refuse anyway. Roles are Django groups created by the migration
core/migrations/0001_roles.py; a superuser may do everything.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.permissions import BasePermission

BILLING_ADMIN = "Billing admin"
SERVICES_MANAGER = "Services manager"
FINANCE = "Finance"
AUDITOR = "Auditor"
ROLES = (BILLING_ADMIN, SERVICES_MANAGER, FINANCE, AUDITOR)

_ALL = frozenset(ROLES)

# capability -> roles that hold it. Read capabilities end in ".view".
CAPABILITIES: dict[str, frozenset[str]] = {
    "agreements.view": _ALL,
    "agreements.import": frozenset({BILLING_ADMIN, SERVICES_MANAGER}),
    "entries.view": frozenset({BILLING_ADMIN, SERVICES_MANAGER, AUDITOR}),
    "entries.import": frozenset({BILLING_ADMIN, SERVICES_MANAGER}),
    # The import history page (SPEC 1.4); undoing an import needs that kind's import capability.
    "imports.history": _ALL,
    "flags.view": frozenset({SERVICES_MANAGER, BILLING_ADMIN, AUDITOR}),
    "flags.act": frozenset({SERVICES_MANAGER}),
    "reconcile.run": frozenset({SERVICES_MANAGER}),
    "invoices.view": frozenset({BILLING_ADMIN, FINANCE, AUDITOR}),
    "invoices.manage": frozenset({BILLING_ADMIN}),
    "credit_notes.create": frozenset({BILLING_ADMIN, FINANCE}),
    "payments.view": frozenset({FINANCE, AUDITOR}),
    "payments.manage": frozenset({FINANCE}),
    "aging.view": frozenset({FINANCE, AUDITOR}),
    "dunning.view": frozenset({FINANCE, AUDITOR}),
    "dunning.run": frozenset({FINANCE}),
    # Record screens (issue 15): every role reads customers and history; each section and each
    # kind of history row is shown only with the read capability of what it shows.
    "customers.view": _ALL,
    "history.view": _ALL,
    "milestones.complete": frozenset({BILLING_ADMIN}),
    "disputes.view": frozenset({BILLING_ADMIN, FINANCE, AUDITOR}),
    "disputes.manage": frozenset({FINANCE}),
    # Credit, approve a credit (four-eyes), reject, re-bill.
    "disputes.resolve": frozenset({BILLING_ADMIN, FINANCE}),
    # Customer contacts of the portal: invite, revoke.
    "contacts.view": frozenset({BILLING_ADMIN, FINANCE, AUDITOR}),
    "contacts.manage": frozenset({BILLING_ADMIN, FINANCE}),
    "mail.templates": frozenset({BILLING_ADMIN}),
    "statements.send": frozenset({FINANCE}),
}

# When a user holds several roles, home goes to the first of these they hold.
ROLES_BY_PRIORITY = (BILLING_ADMIN, SERVICES_MANAGER, FINANCE, AUDITOR)

# The page each role lands on after login (URL names).
HOME_PAGES = {
    SERVICES_MANAGER: "timesheets:dashboard",
    BILLING_ADMIN: "invoicing:review",
    FINANCE: "receivables:aging",
    AUDITOR: "invoicing:review",
}


def user_roles(user: Any) -> frozenset[str]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return _ALL
    cached = getattr(user, "_billable_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        user._billable_roles = cached
    return cached


def has_capability(user: Any, capability: str) -> bool:
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")
    return bool(user_roles(user) & CAPABILITIES[capability])


def require(
    capability: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """View decorator: anonymous users go to login, users without the capability get 403."""
    if capability not in CAPABILITIES:
        raise KeyError(f"unknown capability {capability!r}")

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_capability(request.user, capability):
                raise PermissionDenied(f"Your role may not do this ({capability}).")
            return view(request, *args, **kwargs)

        wrapper.required_capability = capability  # type: ignore[attr-defined]
        return wrapper

    return decorator


class HasCapability(BasePermission):
    """DRF permission: the view declares `capabilities = {"GET": "x.view", "POST": "x.act", ...}`
    or a single `capability`. Safe methods fall back to the "GET" entry."""

    message = "Your role may not do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        capability = required_capability(view, request.method)
        return capability is not None and has_capability(request.user, capability)


def required_capability(view: Any, method: str) -> str | None:
    action = getattr(view, "action", None)
    per_action = getattr(view, "action_capabilities", None) or {}
    if action and action in per_action:
        return per_action[action]
    per_method = getattr(view, "capabilities", None) or {}
    if method in per_method:
        return per_method[method]
    if method in {"HEAD", "OPTIONS"} and "GET" in per_method:
        return per_method["GET"]
    return getattr(view, "capability", None)


def roles_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None:
        return {}
    caps = {name for name in CAPABILITIES if has_capability(user, name)}
    return {
        "user_roles": sorted(user_roles(user)),
        "can": {c.replace(".", "_"): True for c in caps},
    }
