"""Django model permissions for the role groups, so the admin console matches each role.

The server-side decision for pages and the API is core.roles.CAPABILITIES; this only
decides what the operator console (Django admin) shows a staff user of that role.
"""

from __future__ import annotations

from typing import Any

from core import roles

_APPS = ("agreements", "timesheets", "invoicing", "receivables")
# (role, app_label, model) -> actions beyond "view". Approved invoices stay read-only in the admin
# whatever the permission (invoicing/admin.py).
_CHANGE: dict[str, dict[str, tuple[str, ...]]] = {
    roles.BILLING_ADMIN: {"invoicing": ("change",), "agreements": ("change",)},
    roles.SERVICES_MANAGER: {"timesheets": ("change",), "agreements": ("change",)},
    roles.FINANCE: {"receivables": ("add", "change")},
}


def sync_group_permissions(**kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    using = kwargs.get("using", "default")
    perms = Permission.objects.using(using).filter(content_type__app_label__in=_APPS)
    by_app: dict[str, list[Permission]] = {}
    for perm in perms.select_related("content_type"):
        by_app.setdefault(perm.content_type.app_label, []).append(perm)
    for name in roles.ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        wanted = []
        for app, app_perms in by_app.items():
            actions = ("view",) + _CHANGE.get(name, {}).get(app, ())
            wanted += [p for p in app_perms if p.codename.split("_", 1)[0] in actions]
        group.permissions.set(wanted)
