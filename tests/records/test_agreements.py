"""Agreement detail: terms, rate card, cap, block, milestones with mark complete, months."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from agreements import services
from agreements.models import Agreement, Milestone
from core.errors import BillingError
from tests.factories import AgreementFactory, MilestoneFactory, RoleRateFactory, TimeEntryFactory

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
