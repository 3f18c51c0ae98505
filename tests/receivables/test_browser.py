"""In headless Chromium: finance records a payment, sees the invoice partly paid, exports the aging."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from core.dates import firm_today
from tests.browser import log_in
from tests.factories import AccountFactory
from tests.world import final_invoice


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_finance_records_payment_sees_partly_paid_and_exports_aging(page, live_server, finance):
    acc = AccountFactory(external_id="ACME", name="Acme Browser Co")
    today = firm_today()
    inv = final_invoice(
        acc,
        "1000.00",
        due=today - dt.timedelta(days=40),
        invoice_date=today - dt.timedelta(days=70),
        seq=1,
    )
    log_in(page, finance)
    assert page.locator("h1").inner_text() == "AR aging"
    page.click("text=Record a payment")
    page.fill("input[name=account]", "ACME")
    page.fill("input[name=date]", today.isoformat())
    page.fill("input[name=amount]", "250.00")
    page.fill("input[name=reference]", f"Remittance {inv.number}")
    page.fill("input[name=method]", "wire")
    page.click("button:has-text('Record payment')")
    page.wait_for_load_state("networkidle")
    assert "recorded" in page.locator(".messages").inner_text()
    assert page.locator("td.invoice-status").inner_text() == "Partially Paid"
    page.click(f"td a:has-text('{inv.number}')")
    page.wait_for_load_state("networkidle")
    assert page.locator("#invoice-status").inner_text() == "Partially Paid"

    page.click("nav[aria-label=Main] >> text=AR aging")
    row = page.locator("tr", has_text="Acme Browser Co")
    assert "750.00" in row.inner_text()
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = download_info.value.path()
    rows = list(csv.reader(io.StringIO(open(path, encoding="utf-8").read())))
    assert rows[1] == [
        "ACME",
        "Acme Browser Co",
        "USD",
        "0.00",
        "0.00",
        "750.00",
        "0.00",
        "0.00",
        "0.00",
        "750.00",
    ]
    with page.expect_download() as download_info:
        page.click("#export-xlsx")
    assert download_info.value.suggested_filename == f"ar-aging-{today.isoformat()}.xlsx"
