"""Agreement detail: terms, rate card, cap, block, milestones with mark complete, months."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from agreements import services
from agreements.models import Agreement, Milestone
from core.errors import BillingError
from core.templatetags.money import money
from invoicing.models import Invoice
from invoicing.services import invoice_run_generate
from tests.factories import (
    AgreementFactory,
    FlagFactory,
    MilestoneFactory,
    RoleRateFactory,
    TimeEntryFactory,
)
from tests.invoicing.helpers import approve
from tests.world import D, small_firm
from timesheets.models import Flag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def fixed_fee():
    agreement = AgreementFactory(
        external_id="AGR-FF",
        project_code="FF",
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("10000.00"),
        hourly_rate=None,
    )
    MilestoneFactory(
        agreement=agreement,
        position=1,
        name="Kickoff",
        percent=Decimal("33.333"),
        due_date=dt.date(2026, 1, 15),
    )
    MilestoneFactory(
        agreement=agreement, position=2, name="Go-live", percent=Decimal("66.667"), due_date=None
    )
    return agreement


def test_detail_shows_terms_rate_card_cap_and_months(client_for, services_manager):
    agreement = AgreementFactory(
        external_id="AGR-TM",
        project_code="TM",
        not_to_exceed_hours=Decimal("10"),
        billing_increment=15,
    )
    RoleRateFactory(agreement=agreement, role="Engineer", rate=Decimal("175.00"))
    TimeEntryFactory(
        project_code="TM", date=dt.date(2026, 1, 5), duration_ms=3_660_000
    )  # 61 min -> 75
    TimeEntryFactory(
        project_code="TM", date=dt.date(2026, 2, 5), duration_ms=7_200_000, billable=False
    )
    html = (
        client_for(services_manager)
        .get(reverse("records:agreement", args=[agreement.pk]))
        .content.decode()
    )
    assert "USD 175.00" in html and "USD 150.00" in html  # rate card and default rate
    assert "1.25 of 10.00 h" in html and "8.75 h remaining" in html
    assert '2026-01</td><td class="num">1</td><td class="num">1.02</td><td class="num">1.02' in html
    assert '2026-02</td><td class="num">1</td><td class="num">2.00</td><td class="num">0.00' in html


def test_billing_admin_marks_an_undated_milestone_complete(client_for, billing_admin, fixed_fee):
    client = client_for(billing_admin)
    url = reverse("records:agreement", args=[fixed_fee.pk])
    html = client.get(url).content.decode()
    assert "USD 3,333.30" in html and "USD 6,666.70" in html and "Mark complete" in html
    go_live = fixed_fee.milestones.get(position=2)
    response = client.post(
        reverse("records:milestone_complete", args=[go_live.pk]),
        {"completed_on": "2026-03-10"},
        follow=True,
    )
    assert "marked complete on 2026-03-10" in response.content.decode()
    go_live.refresh_from_db()
    assert go_live.completed_on == dt.date(2026, 3, 10) and go_live.completed_by == billing_admin
    record = go_live.history.latest()
    assert (
        record.history_user == billing_admin and record.history_change_reason == "marked complete"
    )
    again = client.post(
        reverse("records:milestone_complete", args=[go_live.pk]),
        {"completed_on": "2026-03-11"},
        follow=True,
    )
    assert "already marked complete on 2026-03-10" in again.content.decode()
    go_live.refresh_from_db()
    assert go_live.completed_on == dt.date(2026, 3, 10)


@pytest.mark.parametrize("persona", ["services_manager", "finance", "auditor"])
def test_other_roles_cannot_mark_complete(request, client_for, persona, fixed_fee):
    client = client_for(request.getfixturevalue(persona))
    go_live = fixed_fee.milestones.get(position=2)
    assert (
        "Mark complete"
        not in client.get(reverse("records:agreement", args=[fixed_fee.pk])).content.decode()
    )
    assert (
        client.post(
            reverse("records:milestone_complete", args=[go_live.pk]), {"completed_on": "2026-03-10"}
        ).status_code
        == 403
    )
    assert Milestone.objects.get(pk=go_live.pk).completed_on is None


@pytest.mark.parametrize(
    ("position", "day", "message"),
    [
        (1, "2026-03-01", "is dated 2026-01-15"),
        (2, "2026-03-16", "is in the future"),
        (2, "2025-12-31", "before the agreement starts"),
    ],
)
def test_milestone_complete_refusals_change_nothing(
    billing_admin, fixed_fee, position, day, message
):
    ms = fixed_fee.milestones.get(position=position)
    with pytest.raises(BillingError, match=message):
        services.milestone_complete(
            milestone=ms, user=billing_admin, completed_on=dt.date.fromisoformat(day)
        )
    ms.refresh_from_db()
    assert ms.completed_on is None and ms.history.count() == 1


def _section(html: str, heading: str) -> str:
    """The page from an <h2> starting with `heading` to the next <h2>."""
    start = html.index(f"<h2>{heading}")
    end = html.find("<h2", start + 1)
    return html[start : end if end != -1 else None]


def test_prepaid_block_flags_and_invoices_sections(
    client_for, billing_admin, services_manager, settings, tmp_path
):
    """AGR-101 of the small firm sells a 2 h block; January has 90 + 60 min on it, so the run
    draws the whole block and bills 0.50 h as overage on the group's draft."""
    settings.MEDIA_ROOT = str(tmp_path)
    firm = small_firm()
    prepaid = firm["prepaid"]
    run = invoice_run_generate(period=dt.date(2026, 1, 1), user=billing_admin)
    assert run.status == "done"
    draft = Invoice.objects.get(block_billings__agreement=prepaid)
    entry = firm["entries"]["5"]
    FlagFactory(
        code=Flag.Code.EXCESSIVE_DAILY_HOURS, entry=entry, agreement=prepaid, detail="Long day."
    )
    FlagFactory(
        code=Flag.Code.OVER_CAP,
        entry=firm["entries"]["4"],
        agreement=prepaid,
        status=Flag.Status.WRITTEN_OFF,
        reason="Goodwill",
        detail="Past the block.",
    )
    FlagFactory(
        code=Flag.Code.NO_AGREEMENT,
        entry=entry,
        agreement=prepaid,
        status=Flag.Status.RESOLVED,
        detail="Resolved long ago.",
    )
    url = reverse("records:agreement", args=[prepaid.pk])
    html = client_for(billing_admin).get(url).content.decode()

    block = html[html.index('<div class="tile" id="block">') :]
    block = block[: block.index("</section>")]
    assert '<div class="value">0.00 of 2.00 h left</div>' in block
    assert '<progress max="100" value="100.0">' in block
    assert "2.00 h drawn, 0.50 h billed as overage" in block
    assert f'Block billed on <a href="/invoices/{draft.pk}/">Draft #{draft.pk}</a>' in block

    flags = _section(html, "Flags")
    assert '<span class="muted">(2)</span>' in flags  # open and written off, not resolved
    assert "Long day." in flags and "Past the block." in flags
    assert "Resolved long ago." not in flags
    assert flags.index("Long day.") < flags.index("Past the block.")  # open first

    invoices = _section(html, "Invoices")
    assert f'<a href="/invoices/{draft.pk}/">Draft #{draft.pk}</a>' in invoices
    assert money(draft.total, "USD") in invoices
    assert invoices.count("<tr>") == 2  # the header and the one draft

    approved = approve(invoice=draft, user=billing_admin)
    html = client_for(billing_admin).get(url).content.decode()
    invoices = _section(html, "Invoices")
    assert approved.number in invoices and invoices.count(money(approved.total, "USD")) == 2
    assert f'Block billed on <a href="/invoices/{draft.pk}/">{approved.number}</a>' in html

    # A services manager sees flags but no invoices; nothing billed yet reads as such.
    manager = client_for(services_manager).get(url).content.decode()
    assert "<h2>Flags" in manager and "<h2>Invoices" not in manager
    other = AgreementFactory(
        agreement_type=Agreement.Type.PREPAID_HOURS, hours_sold=Decimal("5"), amount=D("500.00")
    )
    empty = client_for(billing_admin).get(reverse("records:agreement", args=[other.pk]))
    empty = empty.content.decode()
    assert (
        '<div class="value">5.00 of 5.00 h left</div>' in empty and "Block not billed yet" in empty
    )
    assert "No open or actioned flags." in empty
    assert "Nothing invoiced on this agreement yet." in empty
