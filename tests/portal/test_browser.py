"""In headless Chromium, on a phone-sized screen: a contact signs in from the invitation link,
disputes one line with a file; reminders skip the invoice meanwhile; finance credits part of it;
the contact sees the credit note and downloads it; reminders resume for what is still open."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail

from core.dates import firm_today
from invoicing.models import CreditNote
from portal import services
from receivables.dunning import dunning_run
from receivables.models import Dispute, Reminder
from tests.browser import log_in
from tests.factories import AccountFactory
from tests.world import invoice_with_lines

PHONE = {"width": 375, "height": 740}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dispute_end_to_end(page, browser, live_server, finance, settings, tmp_path, approved_mail):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BILLING_DUNNING_DAYS = [7, 30, 60]
    settings.BILLING_SITE_URL = live_server.url
    today = firm_today()
    acc = AccountFactory(name="Phone Customer Ltd", billing_email="ap@phone.example")
    invoice = invoice_with_lines(
        acc, ["600.00", "400.00"], due=today - dt.timedelta(days=10), pdf=True
    )
    services.contact_invite(account=acc, email="jane@phone.example", user=finance)
    link = re.search(r"(/portal/signin/[A-Za-z0-9_-]+/)", mail.outbox[0].body).group(1)

    page.set_viewport_size(PHONE)
    page.goto(link)
    page.click("#signin-button")
    page.wait_for_url("**/portal/")
    assert "Phone Customer Ltd" in page.locator("main h1").inner_text()
    assert no_sideways_scroll(page)
    page.click(f"#open-invoices a:has-text('{invoice.number}')")
    assert no_sideways_scroll(page)
    line2 = invoice.lines.get(position=2)
    form = page.locator("#dispute-form")
    form.locator("select[name=category]").select_option("overbilling")
    form.locator("textarea[name=message]").fill("Project hours were billed twice.")
    form.locator(f"input[name=lines][value='{line2.pk}']").check()
    form.locator("input[name=files]").set_input_files(
        {"name": "timesheet.csv", "mimeType": "text/csv", "buffer": b"date,hours\n2026-01-12,4\n"}
    )
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/portal/disputes/*/")
    assert page.locator("#dispute-status").inner_text() == "Open"
    assert "timesheet.csv" in page.locator("#dispute-thread").inner_text()
    dispute = Dispute.objects.get()
    assert list(dispute.lines.all()) == [line2]

    # Meanwhile the invoice is 10 days past due, and dunning skips it.
    assert dunning_run(as_of=today) == []
    assert Reminder.objects.count() == 0

    staff = browser.new_context(base_url=live_server.url).new_page()
    log_in(staff, finance)
    staff.goto("/receivables/disputes/")
    row = staff.locator("#dispute-list tr", has_text=invoice.number)
    assert "Overbilling" in row.inner_text() and "d left" in row.inner_text()
    row.locator("a").first.click()
    assert "Project hours were billed twice." in staff.locator("#dispute-thread").inner_text()
    staff.fill("#credit-form input[name=amount]", "400.00")
    staff.fill("#credit-form input[name=reason]", "Project line billed twice")
    staff.click("#credit-form button[type=submit]")
    assert staff.locator("#confirm-amount").inner_text() == "USD 400.00"
    assert CreditNote.objects.count() == 0
    staff.click("#confirm-action")
    staff.wait_for_load_state("networkidle")
    assert staff.locator("#dispute-status").inner_text() == "Resolved by credit note"
    note = CreditNote.objects.get()
    assert (note.amount, note.created_by) == (Decimal("400.00"), finance)
    staff.context.close()

    page.reload()
    assert page.locator("#dispute-status").inner_text() == "Resolved by credit note"
    assert page.locator("#dispute-credit-note").inner_text() == note.number
    with page.expect_download() as download:
        page.click("#dispute-credit-note")
    assert download.value.suggested_filename == f"{note.number}.pdf"
    with open(download.value.path(), "rb") as fh:
        assert fh.read(5) == b"%PDF-"
    page.click(f"text={invoice.number}")
    assert page.locator("#invoice-open").inner_text() == "USD 600.00"

    # Resolved: the 600.00 still open is reminded again.
    sent = dunning_run(as_of=today)
    assert [(r.invoice_id, r.level, r.status) for r in sent] == [(invoice.pk, 7, "sent")]
