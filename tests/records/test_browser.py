"""Headless Chromium over the record screens (issue 15): a reminder sent from the customer page
after its preview, a milestone marked complete and billed on the next draft, the auditor
browsing history, a bulk write-off of all matching flags after a confirmation, and screenshots
at 1366 px and 390 px (saved under test-results/)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail

from agreements.models import Agreement, Milestone
from core.dates import firm_today
from invoicing import services as invoicing_services
from invoicing.models import Invoice
from receivables.models import Reminder
from tests.browser import log_in
from tests.factories import AccountFactory, AgreementFactory, FlagFactory, MilestoneFactory
from tests.screens.helpers import final_invoice
from timesheets.models import Flag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RESULTS = Path(__file__).resolve().parents[2] / "test-results"


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)


def test_finance_finds_an_overdue_invoice_on_the_customer_page_and_sends_a_reminder(
    page, live_server, finance
):
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp", billing_email="ap@acme.example")
    today = firm_today()
    inv = final_invoice(
        account=acme,
        seq=1,
        total="9451.48",
        invoice_date=today - dt.timedelta(days=40),
        due_date=today - dt.timedelta(days=10),
    )
    log_in(page, finance)
    page.goto("/customers/")
    page.click("text=Acme Corp")
    row = page.locator("#customer-invoices tr", has_text="INV-2026-00001")
    assert "Overdue" in row.inner_text() and "USD 9,451.48" in row.inner_text()
    row.locator("a.remind").click()
    assert (
        "Friendly reminder: invoice INV-2026-00001 is 10 days past due"
        in page.locator("#mail-subject").inner_text()
    )
    assert "USD 9,451.48 open" in page.locator("#mail-body").inner_text()
    assert mail.outbox == []
    page.fill("#mail-cc", "cfo@acme.example")
    page.click("#mail-send")
    page.wait_for_load_state("networkidle")
    assert (
        "Reminder for INV-2026-00001 sent to ap@acme.example"
        in page.locator(".messages").inner_text()
    )
    assert [(m.to, m.cc) for m in mail.outbox] == [(["ap@acme.example"], ["cfo@acme.example"])]
    assert Reminder.objects.get(invoice=inv).level == 7


def test_billing_admin_marks_a_milestone_complete_and_sees_it_on_the_next_draft(
    page, live_server, billing_admin
):
    first_of_month = firm_today().replace(day=1)
    last_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    agreement = AgreementFactory(
        external_id="AGR-FF",
        project_code="FF",
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("12000.00"),
        hourly_rate=None,
        start_date=last_month - dt.timedelta(days=60),
    )
    MilestoneFactory(
        agreement=agreement, position=1, name="Go-live", percent=Decimal("100"), due_date=None
    )
    log_in(page, billing_admin)
    page.goto("/agreements/")
    page.click("text=AGR-FF")
    done_on = last_month + dt.timedelta(days=9)
    page.fill("#milestones input[name=completed_on]", done_on.isoformat())
    page.once("dialog", lambda d: d.accept())
    page.click("#milestones button:has-text('Mark complete')")
    page.wait_for_load_state("networkidle")
    assert f"marked complete on {done_on.isoformat()}" in page.locator(".messages").inner_text()
    assert Milestone.objects.get().completed_by == billing_admin
    invoicing_services.invoice_run_generate(period=last_month)
    draft = Invoice.objects.get(status="draft")
    page.reload()
    assert f"Draft #{draft.pk}" in page.locator("#milestones").inner_text()
    page.click(f"#milestones >> text=Draft #{draft.pk}")
    assert "Go-live" in page.locator("#lines").inner_text()
    assert "USD 12,000.00" in page.locator("#lines").inner_text()


def test_auditor_browses_history_field_by_field(page, live_server, auditor, billing_admin):
    agreement = AgreementFactory(external_id="AGR-7", hourly_rate=Decimal("150.00"))
    agreement.hourly_rate = Decimal("165.00")
    agreement._history_user = billing_admin
    agreement.save()
    log_in(page, auditor)
    page.click("nav >> text=History")
    page.select_option("select[name=kind]", "agreement")
    page.fill("input[name=object]", "AGR-7")
    page.click("form[aria-label='Filter history'] button[type=submit]")
    events = page.locator("tr.event")
    assert events.count() == 2
    changed = events.first.inner_text()
    assert (
        "bella.admin" in changed
        and "hourly rate" in changed
        and "150.00" in changed
        and "165.00" in changed
    )
    assert (
        page.locator("form[method=post]").count() == 1
    )  # only the log-out form: nothing to change


def test_services_manager_writes_off_all_matching_flags_after_a_confirmation(
    page, live_server, services_manager
):
    flags = [FlagFactory(code=Flag.Code.NO_AGREEMENT) for _ in range(60)]
    log_in(page, services_manager)
    page.goto("/time/dashboard/?code=NO_AGREEMENT")
    page.check("#select-all")
    page.click("#select-all-matching")
    assert "All 60 matching flags are selected" in page.locator(".all-matching-note").inner_text()
    assert page.locator("#bulk-action").input_value() == ""  # no destructive default
    page.select_option("#bulk-action", "write_off")
    page.fill("#bulk-reason", "Internal project, never billable")
    page.click("#bulk-submit")
    assert page.locator("#confirm-heading").inner_text() == "Write off 60 flags?"
    assert Flag.objects.filter(status="open").count() == 60
    page.click("#confirm-bulk")
    page.wait_for_load_state("networkidle")
    assert "60 flags written off." in page.locator(".messages").inner_text()
    assert set(
        Flag.objects.filter(pk__in=[f.pk for f in flags]).values_list("status", flat=True)
    ) == {"written_off"}


@pytest.mark.parametrize("width", [1366, 390])
def test_screenshots_and_no_page_overflow_at_390(page, live_server, finance, width):
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp", billing_email="ap@acme.example")
    AgreementFactory(account=acme, external_id="AGR-1")
    for seq in range(1, 8):
        final_invoice(account=acme, seq=seq, total=f"{seq * 1234}.56")
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, finance)
    for name, url in [
        ("invoices", "/invoices/all/"),
        ("customer", f"/customers/{acme.pk}/"),
        ("customers", "/customers/"),
        ("history", "/history/"),
        ("aging", "/receivables/aging/"),
        ("payments", "/receivables/payments/"),
        ("record-payment", "/receivables/payments/new/?account=ACC-1"),
        ("unapplied", "/receivables/unapplied/"),
        ("dunning", "/receivables/dunning/"),
    ]:
        page.goto(url)
        page.screenshot(path=str(RESULTS / f"screen-{name}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        widest = page.evaluate(
            "[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5).join(' ')"
        )
        assert overflow <= width + 1, (name, overflow, widest)
    page.goto("/invoices/all/")
    assert page.locator("#totals").is_visible()
    assert "7 invoices" in page.locator("#totals").inner_text()


# Whether the page, or a table, spills past the viewport: the page's own width, each table's
# right edge unless an ancestor scrolls it horizontally, and the elements cut off (right edge past
# the viewport, not inside a horizontal scroll container).
OVERFLOW_JS = """() => {
  const scrolls = e => { for (let a = e.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if ((o === 'auto' || o === 'scroll') && a.getBoundingClientRect().right <= innerWidth + 1)
        return true; }
    return false; };
  const cut = [...document.querySelectorAll('body *')].filter(e => {
      const r = e.getBoundingClientRect();
      return r.width > 0 && r.right > innerWidth + 1 && !scrolls(e); })
    .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 5);
  return {width: document.documentElement.scrollWidth, cut: cut,
          tables: document.querySelectorAll('main table').length};
}"""


@pytest.mark.parametrize("width", [1366, 390])
def test_work_screens_fit_at_1366_and_390_with_their_totals_reachable(
    page, live_server, billing_admin, width
):
    """Time entries, an agreement, invoice review and the exception dashboard: nothing cut off
    the page (a wide table scrolls inside its container), and each table's total column can be
    scrolled into view."""
    from invoicing.models import InvoiceLine
    from tests.factories import EmployeeFactory, TimeEntryFactory

    acme = AccountFactory(external_id="ACC-W", name="Wide Tables Incorporated International")
    agreement = AgreementFactory(
        account=acme, external_id="AGR-W", project_code="WIDE", not_to_exceed_hours=120
    )
    for n in range(12):
        entry = TimeEntryFactory(
            project_code="WIDE",
            date=dt.date(2026, 1, 2 + n),
            employee=EmployeeFactory(external_id=f"EW{n}", name=f"Employee With A Long Name {n}"),
            notes="Long note about the work done on the integration with the ledger " * 2,
        )
        if n < 4:
            FlagFactory(code=Flag.Code.NO_AGREEMENT, entry=entry)
    period = dt.date(2026, 1, 1)
    for n in range(3):
        draft = Invoice.objects.create(
            account=AccountFactory(external_id=f"ACC-D{n}", name=f"Draft Customer {n} Holdings"),
            currency="USD",
            period=period,
            invoice_date=dt.date(2026, 1, 31),
            due_date=dt.date(2026, 3, 2),
            net=Decimal("123456.78"),
            tax=Decimal("0.00"),
            total=Decimal("123456.78"),
        )
        InvoiceLine.objects.create(
            invoice=draft,
            agreement=agreement,
            position=1,
            kind=InvoiceLine.Kind.TIME,
            description="Consulting",
            minutes=60,
            hours=Decimal("1.00"),
            rate=Decimal("123456.78"),
            amount=Decimal("123456.78"),
        )
    RESULTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, billing_admin)
    for name, url, total in [
        ("entries", "/time/entries/", "#entries tbody tr td.num"),
        ("agreement", f"/agreements/{agreement.pk}/", "#months td.num"),
        ("review", "/invoices/?period=2026-01", "#bulk-approve td.num >> nth=-1"),
        ("exceptions", "/time/dashboard/", "table.codes td.num"),
    ]:
        page.goto(url)
        page.screenshot(path=str(RESULTS / f"screen-{name}-{width}.png"), full_page=True)
        found = page.evaluate(OVERFLOW_JS)
        assert found["tables"] >= 1, name
        assert found["width"] <= width + 1 and found["cut"] == [], (name, found)
        cell = page.locator(total).last
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (
            name,
            box,
        )
        assert cell.inner_text().strip(), name
