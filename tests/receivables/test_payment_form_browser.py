"""In headless Chromium: finance picks a customer from the list, sees only its currencies and its
open invoices, ticks one, records the payment; typing the same payment again is asked about first."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from core.dates import firm_today
from receivables.models import Payment
from tests.browser import log_in
from tests.factories import AccountFactory, AgreementFactory
from tests.world import final_invoice


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_pick_customer_tick_invoice_record_then_duplicate_asks_first(page, live_server, finance):
    today = firm_today()
    acme = AccountFactory(external_id="ACME", name="Acme Browser Co")
    AccountFactory(external_id="BETA", name="Beta Co")
    AgreementFactory(account=acme, currency="EUR")
    old = final_invoice(acme, "400.00", due=today - dt.timedelta(days=40), seq=21)
    new = final_invoice(acme, "300.00", due=today - dt.timedelta(days=10), seq=22)
    eur = final_invoice(acme, "900.00", due=today - dt.timedelta(days=5), seq=23, currency="EUR")

    log_in(page, finance)
    page.click("text=Record a payment")
    # The script loads the customer in place; expect() waits for it to have run (the click
    # returns once the page is committed, which can be before the script has hidden the button).
    expect(page.locator("#pick-account")).to_be_hidden()
    page.fill("input[name=account]", "ACME")
    page.wait_for_selector("#invoice-checklist")
    currencies = page.locator("select[name=currency] option").all_inner_texts()
    assert currencies == ["EUR", "USD"]
    assert page.locator("select[name=currency]").input_value() == "USD"
    # Only the USD invoices are offered for a USD payment; switching shows the EUR one.
    assert page.locator(f"label:has-text('{eur.number}')").is_hidden()
    assert page.locator(f"label:has-text('{old.number}')").is_visible()
    page.select_option("select[name=currency]", "EUR")
    assert page.locator(f"label:has-text('{eur.number}')").is_visible()
    assert page.locator(f"label:has-text('{old.number}')").is_hidden()
    page.select_option("select[name=currency]", "USD")

    page.fill("input[name=date]", today.isoformat())
    page.fill("input[name=amount]", "300.00")
    page.check(f"#pay-{new.pk}")
    page.click("#record-payment")
    page.wait_for_load_state("networkidle")
    assert "recorded" in page.locator(".messages").inner_text()
    assert new.number in page.locator("table").first.inner_text()
    payment = Payment.objects.get()
    assert [a.invoice_id for a in payment.allocations.all()] == [new.pk]

    # The same customer, amount and date again: a warning, nothing written until confirmed.
    page.click("text=Record a payment")
    page.fill("input[name=account]", "ACME")
    page.wait_for_selector("#invoice-checklist")
    page.fill("input[name=date]", today.isoformat())
    page.fill("input[name=amount]", "300.00")
    page.click("#record-payment")
    page.wait_for_load_state("networkidle")
    warning = page.locator("#duplicate-warning")
    assert payment.external_id in warning.inner_text()
    assert Payment.objects.count() == 1
    page.click("#confirm-duplicate")
    page.wait_for_load_state("networkidle")
    assert "recorded" in page.locator(".messages").inner_text()
    assert Payment.objects.count() == 2
    second = Payment.objects.exclude(pk=payment.pk).get()
    assert [a.invoice_id for a in second.allocations.all()] == [old.pk]
