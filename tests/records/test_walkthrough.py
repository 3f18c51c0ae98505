"""Walkthrough fixes: KPIs default to the last closed month; generating an unended month warns;
the app's own 404 page; favicon and skip link on every page."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False)


def test_kpis_default_to_the_last_closed_month(client_for, services_manager):
    html = client_for(services_manager).get("/time/dashboard/").content.decode()
    assert 'name="month" value="2026-02"' in html and "February 2026" in html


def test_generating_a_month_not_yet_ended_warns_first(client_for, billing_admin):
    now = client_for(billing_admin).get("/invoices/?period=2026-03").content.decode()
    assert 'id="period-open"' in now and "March 2026 has not ended yet (it ends 2026-03-31)" in now
    assert "data-confirm=" in now.split('id="run-form"')[1].split(">")[0]
    closed = client_for(billing_admin).get("/invoices/?period=2026-02").content.decode()
    assert (
        'id="period-open"' not in closed
        and "data-confirm=" not in closed.split('id="run-form"')[1].split(">")[0]
    )


def test_own_404_page_skip_link_and_favicon(client_for, auditor, settings):
    settings.DEBUG = False
    response = client_for(auditor).get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404 and "There is nothing at this address" in html
    assert 'class="skip" href="#content"' in html and "favicon.svg" in html
