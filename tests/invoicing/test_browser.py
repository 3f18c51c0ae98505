"""Headless Chromium: a billing admin opens a draft, sees the PDF, approves it, sees the number.
And the run button with a real Celery worker."""

from __future__ import annotations

import pytest

from invoicing import services
from invoicing.models import Invoice, InvoiceRun
from tests.browser import log_in
from tests.invoicing.helpers import JAN, build_firm
from tests.worker import wait_for


@pytest.fixture
def no_flag_refresh(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    settings.MEDIA_ROOT = tmp_path


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_billing_admin_opens_a_draft_sees_the_pdf_approves_it_and_sees_the_number(
    page, live_server, billing_admin, no_flag_refresh
):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-1")

    log_in(page, billing_admin)
    page.goto("/invoices/?period=2026-01")
    assert page.locator("h1").inner_text() == "Invoice review"
    with page.expect_response(
        lambda r: r.url.endswith(f"/invoices/{invoice.pk}/pdf/")
    ) as pdf_response:
        page.click(f"text=Draft #{invoice.pk}")
    assert pdf_response.value.status == 200
    assert pdf_response.value.headers["content-type"] == "application/pdf"
    assert page.locator("#invoice-title").inner_text() == f"Draft #{invoice.pk}"
    assert page.locator("iframe#pdf-preview").is_visible()
    assert "P100: Engineer" in page.locator("#lines").inner_text()

    page.once(
        "dialog", lambda dialog: dialog.accept()
    )  # "Approve this draft? ... cannot be undone"
    page.click("#approve")
    page.wait_for_load_state("networkidle")
    assert page.locator("#invoice-title").inner_text() == "Invoice INV-2026-00001"
    assert "Approved as INV-2026-00001" in page.locator(".messages").inner_text()
    assert page.locator("#invoice-status").inner_text() == "Approved"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.approved_by) == (
        "approved",
        "INV-2026-00001",
        billing_admin,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dismissing_the_confirmation_approves_nothing(
    page, live_server, billing_admin, no_flag_refresh
):
    build_firm()
    services.invoice_run_generate(period=JAN)
    invoice = Invoice.objects.get(po_number="PO-2")
    log_in(page, billing_admin)
    page.goto(f"/invoices/{invoice.pk}/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#approve")
    page.wait_for_timeout(300)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == ("draft", None)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_run_button_enqueues_a_run_that_a_real_worker_completes(
    client_for, billing_admin, celery_worker
):
    build_firm()
    client = client_for(billing_admin)
    response = client.post("/invoices/runs/", {"period": "2026-01"})
    assert response.status_code == 302
    run = InvoiceRun.objects.get()
    done = wait_for(
        lambda: InvoiceRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).first(),
        timeout=90,
    )
    assert done.status == "done", done.error
    assert (done.groups_total, done.groups_done, done.invoices_created) == (3, 3, 3)
    assert Invoice.objects.filter(status="draft").count() == 3
    # A second delivery of the same run is a no-op.
    from invoicing.tasks import generate_invoices_task

    generate_invoices_task(run.pk)
    assert Invoice.objects.count() == 3
