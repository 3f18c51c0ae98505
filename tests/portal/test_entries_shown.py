"""The entries behind a portal invoice line (issue 18): each entry's own hours, as the customer's
timesheet has them, with the billed (rounded) hours beside them when they differ; the summary
counts "1 time entry", "2 time entries"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse

from portal import services
from tests.factories import AccountFactory, AgreementFactory, TimeEntryFactory
from tests.world import invoice_with_lines, portal_client, portal_contact


def test_entry_hours_and_the_count_read_right(alpha, finance):
    services.portal_account_set(account=alpha.account, show_entries=True, user=finance)
    page = portal_client(alpha.contact).get(reverse("portal:invoice", args=[alpha.invoice.pk]))
    html = page.content.decode()
    assert "<summary>2 time entries</summary>" in html
    assert "2026-01-12 · Engineer · 3.00 h · Server patching" in html  # 180 min, billed 180

    # One entry of 61 minutes, billed 75 (a 15-minute increment).
    account = AccountFactory(external_id="ACC-ONE")
    agreement = AgreementFactory(account=account, project_code="ONE", billing_increment=15)
    entry = TimeEntryFactory(
        project_code="ONE", date=dt.date(2026, 1, 14), duration_ms=61 * 60_000, notes="Reboot"
    )
    line = {
        "description": "Support",
        "minutes": 75,
        "hours": Decimal("1.25"),
        "rate": Decimal("100.00"),
        "amount": "125.00",
        "entries": [entry],
        "billed_minutes": 75,
    }
    invoice = invoice_with_lines(account, [line], agreement=agreement, seq=9001)
    contact = portal_contact(account, "ap@one.example")
    services.portal_account_set(account=account, show_entries=True, user=finance)
    html = portal_client(contact).get(reverse("portal:invoice", args=[invoice.pk])).content.decode()
    assert "<summary>1 time entry</summary>" in html
    assert f"2026-01-14 · {entry.role} · 1.02 h (billed 1.25 h) · Reboot" in html
