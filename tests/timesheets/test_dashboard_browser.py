"""The exception dashboard in headless Chromium (issue 4)."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.factories import AgreementFactory, TimeEntryFactory
from timesheets.models import Flag
from timesheets.services import reconciliation_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_filters_writes_off_with_reason_and_count_drops(
    page, live_server, services_manager
):
    AgreementFactory(external_id="AGR-1", project_code="PRJ-1", start_date=dt.date(2026, 1, 1))
    for i in range(3):
        TimeEntryFactory(
            external_id=str(200 + i), project_code="NOPE", date=dt.date(2026, 3, 2 + i)
        )
    TimeEntryFactory(
        external_id="300", project_code="PRJ-1", approved=False, date=dt.date(2026, 3, 1)
    )
    reconciliation_run(as_of=dt.date(2026, 3, 15))

    log_in(page, services_manager)
    page.select_option("#id_code", "NO_AGREEMENT")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "code=NO_AGREEMENT" in page.url
    assert page.locator("#flags tbody tr").count() == 3
    assert page.locator("tr[data-code=NO_AGREEMENT] .count").inner_text() == "3"

    page.check("input[aria-label='Select NO_AGREEMENT 201']")
    page.select_option("#bulk-action", "write_off")
    page.fill("#bulk-reason", "Internal training, not billable")
    page.click("#bulk-submit")
    page.wait_for_load_state("networkidle")
    # A confirmation with the count comes first; nothing is written before it.
    assert page.locator("#confirm-heading").inner_text() == "Write off 1 flag?"
    assert Flag.objects.get(code="NO_AGREEMENT", subject="201").status == "open"
    page.click("#confirm-bulk")
    page.wait_for_load_state("networkidle")

    assert "1 flag written off." in page.locator(".messages").inner_text()
    assert page.locator("tr[data-code=NO_AGREEMENT] .count").inner_text() == "2"
    assert page.locator("#flags tbody tr").count() == 2
    flag = Flag.objects.get(code="NO_AGREEMENT", subject="201")
    assert flag.status == "written_off"
    assert flag.reason == "Internal training, not billable"
    assert flag.actioned_by == services_manager
    assert flag.history.first().history_user_id == services_manager.pk


def test_manager_runs_reconciliation_from_the_dashboard(page, live_server, services_manager):
    TimeEntryFactory(external_id="1", project_code="NOPE", date=dt.date(2026, 3, 2))
    log_in(page, services_manager)
    assert "No reconciliation has run yet" in page.content()
    page.fill("input[name=as_of]", "2026-03-15")
    page.click("#run-now")
    page.wait_for_load_state("networkidle")
    assert "1 opened, 0 resolved, 1 open" in page.locator("#run").inner_text()
    assert page.locator("tr[data-code=NO_AGREEMENT] .count").inner_text() == "1"


def test_finance_user_is_refused(page, live_server, finance):
    log_in(page, finance)
    response = page.goto("/time/dashboard/")
    assert response.status == 403
    assert "Not allowed" in page.content()
    assert page.locator("nav[aria-label=Main] a", has_text="Exceptions").count() == 0


def test_page_polls_a_running_run_and_reloads_when_done(page, live_server, services_manager):
    from timesheets.models import ReconciliationRun

    run = ReconciliationRun.objects.create(
        as_of=dt.date(2026, 3, 15),
        status="running",
        step="Duplicate entries",
        steps_done=3,
        steps_total=9,
        started_by=services_manager,
    )
    log_in(page, services_manager)
    assert page.locator("#run progress").get_attribute("value") == "3"
    assert page.locator("#run-now").is_disabled()
    ReconciliationRun.objects.filter(pk=run.pk).update(step="Hours over caps", steps_done=4)
    # expect() polls without evaluating a string (the page's CSP forbids unsafe-eval).
    expect(page.locator("#run .run-step")).to_have_text("Hours over caps")
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status="done", step="Done", steps_done=9, opened=0, resolved=0, open_total=0
    )
    page.wait_for_selector("#run-now:not([disabled])")
    assert "0 opened, 0 resolved, 0 open" in page.locator("#run").inner_text()
