"""The history view: field-by-field changes, per-role kinds, filters, pages, flat queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from agreements import services
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    MilestoneFactory,
    TimeEntryFactory,
)

pytestmark = pytest.mark.django_db
URL = "/history/"


@pytest.fixture
def changed(billing_admin):
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp")
    agreement = AgreementFactory(account=acme, external_id="AGR-1", hourly_rate=Decimal("150.00"))
    agreement.hourly_rate = Decimal("175.00")
    agreement._history_user = billing_admin
    agreement.save()
    ms = MilestoneFactory(
        agreement__account=acme, agreement__external_id="AGR-FF", due_date=None, name="Go-live"
    )
    services.milestone_complete(milestone=ms, user=billing_admin, completed_on=dt.date(2026, 1, 20))
    TimeEntryFactory(external_id="555", employee=EmployeeFactory(external_id="E9"))
    return agreement


def test_auditor_sees_who_changed_what_field_by_field(client_for, auditor, changed):
    html = client_for(auditor).get(URL + "?kind=agreement&object=AGR-1").content.decode()
    assert "bella.admin" in html and "Changed" in html
    assert "<strong>hourly rate</strong>: <del>USD 150.00</del> → USD 175.00" in html
    assert html.count('class="event"') == 2  # created, then changed
    ms = client_for(auditor).get(URL + "?kind=milestone&user=bella").content.decode()
    assert (
        "marked complete" in ms and "<strong>completed on</strong>: <del>—</del> → 2026-01-20" in ms
    )


def test_each_role_sees_only_what_it_may_read(client_for, finance, services_manager, changed):
    fin = client_for(finance).get(URL).content.decode()
    assert 'data-kind="agreement"' in fin and 'data-kind="entry"' not in fin
    assert client_for(finance).get(URL + "?kind=entry").content.decode().count('class="event"') == 0
    sm = client_for(services_manager).get(URL).content.decode()
    assert 'data-kind="entry"' in sm


def test_account_filter_and_customer_page_history(client_for, auditor, changed):
    acc = changed.account
    html = client_for(auditor).get(URL + f"?account={acc.pk}").content.decode()
    assert "History of Acme Corp" in html and 'data-kind="entry"' not in html
    assert 'data-kind="milestone"' in html and 'data-kind="agreement"' in html
    page = client_for(auditor).get(reverse("records:customer", args=[acc.pk])).content.decode()
    assert "History of changes" in page and "hourly rate" in page


def test_date_filter_and_empty_range(client_for, auditor, changed):
    assert (
        client_for(auditor)
        .get(URL + "?date_from=2099-01-01")
        .content.decode()
        .count('class="event"')
        == 0
    )
    html = (
        client_for(auditor).get(URL + "?date_from=2026-02-01&date_to=2026-01-01").content.decode()
    )
    assert "From is after To" in html and 'class="event"' not in html


def test_pages_cover_every_event_once_with_flat_queries(
    client_for, auditor, django_assert_max_num_queries
):
    AgreementFactory.create_batch(70)  # also 70 accounts: 140 events
    client = client_for(auditor)
    seen, url = [], URL
    for _ in range(4):
        with django_assert_max_num_queries(30):
            html = client.get(url).content.decode()
        seen += [part.split("</tr>")[0] for part in html.split('class="event"')[1:]]
        if 'id="next-page"' not in html:
            break
        url = URL + html.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace(
            "&amp;", "&"
        )
    assert len(seen) == 140 and len(set(seen)) == 140


def _history_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("query", ["", "?user=bella", "?date_from=2020-01-01&kind=entry"])
def test_history_query_count_does_not_grow_with_rows(client_for, auditor, billing_admin, query):
    """The same number of queries with N and 3N changes in every table the auditor reads."""

    def changes(n: int) -> None:
        for _ in range(n):
            agreement = AgreementFactory()
            agreement.hourly_rate = Decimal("1.00")
            agreement._history_user = billing_admin
            agreement.save()
            TimeEntryFactory()

    client = client_for(auditor)
    changes(20)
    few = _history_queries(client, URL + query)
    changes(40)
    many = _history_queries(client, URL + query)
    assert few == many
    html = client.get(URL + query).content.decode()
    assert html.count('class="event"') == 50 and 'id="next-page"' in html


def test_date_filter_is_a_local_day(client_for, auditor, settings):
    """`date_to` includes the whole local day (the range on history_date, not a cast)."""
    import time_machine

    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC), tick=False):
        AccountFactory(external_id="ACC-LATE")  # 00:30 on 10 March in Berlin
    client = client_for(auditor)
    day = client.get(URL + "?kind=account&date_from=2026-03-10&date_to=2026-03-10").content
    assert b"ACC-LATE" in day
    before = client.get(URL + "?kind=account&date_to=2026-03-09").content
    assert b"ACC-LATE" not in before
