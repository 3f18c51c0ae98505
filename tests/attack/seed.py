"""The small world the production-like install is attacked in (tests/attack/install.py runs this
as `python -m tests.attack.seed OUT.json` on the install's own database, after migrate).

Users of every role (password `tests.conftest.PASSWORD`), the small firm of tests.world for
January 2026 plus 600 more entries on AGR-200, so its PO-2 draft bills over 600 entries (its PDF
preview renders in the worker), a one-account draft for the stale-version attack, and the EUR
draft approved. Writes the ids the attacks need to OUT.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from decimal import Decimal


def seed() -> dict:
    from agreements.models import Agreement
    from core import roles
    from invoicing import services
    from invoicing.models import Invoice
    from tests.factories import AccountFactory, AgreementFactory, TimeEntryFactory, UserFactory
    from tests.world import JAN, minutes, small_firm

    users = {
        "bella.admin": [roles.BILLING_ADMIN],
        "bruno.admin": [roles.BILLING_ADMIN],
        "carla.admin": [roles.BILLING_ADMIN],
        "sam.manager": [roles.SERVICES_MANAGER],
        "fiona.finance": [roles.FINANCE],
        "tom.tokens": [roles.FINANCE],
        "audrey.auditor": [roles.AUDITOR],
        "abe.auditor": [roles.AUDITOR],
        "oscar.outsider": [],
        "lock.alice": [roles.AUDITOR],
        "lock.bob": [roles.AUDITOR],
        "lock.carol": [roles.AUDITOR],
        "rate.rita": [roles.FINANCE],
    }
    for username, names in users.items():
        UserFactory(username=username, roles=names)
    UserFactory(username="sue.super", is_superuser=True, is_staff=True)

    firm = small_firm()
    for n in range(600):
        TimeEntryFactory(
            external_id=str(500_000 + n),
            project_code="P200",
            date=dt.date(2026, 1, 10 + n % 22),
            duration_ms=minutes(15 + n % 4 * 15),
            role="Engineer",
            employee=firm["ann"] if n % 2 else firm["ben"],
            notes=f"Support ticket {n}",
        )
    stale = AccountFactory(external_id="ACC-S", name="Stale Review Ltd")
    AgreementFactory(
        external_id="AGR-900",
        account=stale,
        project_code="P900",
        po_number="PO-S",
        hourly_rate=Decimal("120.00"),
        agreement_type=Agreement.Type.TIME_AND_MATERIALS,
    )
    for n in range(2):
        TimeEntryFactory(
            external_id=str(590_000 + n),
            project_code="P900",
            date=dt.date(2026, 1, 12 + n),
            duration_ms=minutes(90),
            employee=firm["ann"],
        )
    services.invoice_run_generate(period=JAN)
    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT)
    euro = drafts.get(currency="EUR")
    approved = services.invoice_approve(
        invoice=euro, user=UserFactory(username="carla.admin"), version=euro.version
    )
    large = drafts.get(po_number="PO-2")
    small = drafts.get(po_number="PO-1")
    stale_draft = drafts.get(po_number="PO-S")
    return {
        "large_draft": large.pk,
        "large_draft_entries": large.entry_billings.count(),
        "four_eyes_draft": small.pk,
        "four_eyes_lines": list(small.lines.order_by("position").values_list("pk", flat=True)),
        "stale_draft": stale_draft.pk,
        "approved": approved.pk,
        "approved_number": approved.number,
        "account_id": "ACC-A",
    }


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    import django

    django.setup()
    world = seed()
    with open(sys.argv[1], "w") as out:
        json.dump(world, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
