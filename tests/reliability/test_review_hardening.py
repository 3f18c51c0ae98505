"""Issue 17, money and workflow (SPEC 3): four eyes over every adjustment, approval of the version
reviewed, no run for a month that is not over, numbering outside the render, large previews in a
worker. Each test failed on the code before the fix."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core import roles
from core.errors import BillingError
from invoicing import numbering, services
from invoicing.models import Invoice, InvoiceAdjustment, InvoiceRun, NumberSequence
from tests.factories import TimeEntryFactory, UserFactory
from tests.invoicing.helpers import JAN, build_firm
from tests.worker import wait_for

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("approved_mail")

D = Decimal


@pytest.fixture(autouse=True)
def no_flag_refresh(monkeypatch):
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def po1() -> Invoice:
    build_firm()
    services.invoice_run_generate(period=JAN)
    return Invoice.objects.get(po_number="PO-1")


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def untouched(invoice: Invoice) -> None:
    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.pdf.name) == ("draft", None, "")
    assert not NumberSequence.objects.filter(last__gt=0).exists()


# --- 1. four eyes ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_later_edit_by_another_admin_does_not_clear_the_first_adjuster(
    media, billing_admin, second_billing_admin
):
    invoice = po1()
    first, second = invoice.lines.order_by("position")[:2]
    services.invoice_line_adjust(
        line=first, user=billing_admin, amount="0.01", reason="Write-down agreed"
    )
    # B edits the same line's wording: on the old code this overwrote adjusted_by and the reason.
    services.invoice_line_adjust(
        line=first, user=second_billing_admin, description="Consulting", reason="wording"
    )
    services.invoice_line_adjust(
        line=second, user=second_billing_admin, description="Support", reason="wording"
    )
    invoice.refresh_from_db()
    for user in (billing_admin, second_billing_admin):
        with pytest.raises(BillingError, match="another billing admin must approve it"):
            services.invoice_approve(invoice=invoice, user=user, version=invoice.version)
    untouched(invoice)

    records = list(
        InvoiceAdjustment.objects.filter(invoice=invoice).values_list(
            "user__username", "kind", "before_amount", "after_amount", "reason", "version"
        )
    )
    assert records == [
        ("bella.admin", "change", D("75.00"), D("0.01"), "Write-down agreed", 2),
        ("bruno.admin", "change", D("0.01"), D("0.01"), "wording", 3),
        ("bruno.admin", "change", D("393.75"), D("393.75"), "wording", 4),
    ]
    # The record is append-only: the database refuses to rewrite or delete it.
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceAdjustment.objects.filter(invoice=invoice).update(reason="nothing to see")
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceAdjustment.objects.filter(invoice=invoice)._raw_delete("default")
    assert InvoiceAdjustment.objects.filter(invoice=invoice).count() == 3

    third = UserFactory(username="carla.admin", roles=[roles.BILLING_ADMIN])
    done = services.invoice_approve(invoice=invoice, user=third, version=invoice.version)
    assert (done.number, done.total) == ("INV-2026-00001", invoice.total)


# --- 2. approval names the version -----------------------------------------------------------


@pytest.mark.django_db
def test_a_run_adding_entries_after_review_makes_approval_refused_on_every_path(
    media, billing_admin, client_for
):
    invoice = po1()
    seen = invoice.version
    assert seen == 1
    entry = TimeEntryFactory(
        external_id="9001",
        date=dt.date(2026, 1, 30),
        project_code="P100",
        duration_ms=8 * 3_600_000,
        employee=invoice.entry_billings.first().entry.employee,
    )
    services.invoice_run_generate(period=JAN)
    invoice.refresh_from_db()
    assert invoice.version == 2 and invoice.entry_billings.filter(entry=entry).exists()
    refused = "changed since you opened it; review again"

    with pytest.raises(BillingError, match=refused):
        services.invoice_approve(invoice=invoice, user=billing_admin, version=seen)
    page = client_for(billing_admin)
    html = page.post(
        reverse("invoicing:approve", args=[invoice.pk]), {"version": str(seen)}, follow=True
    ).content.decode()
    assert refused in html
    html = page.post(reverse("invoicing:approve", args=[invoice.pk]), follow=True).content.decode()
    assert "names the version you reviewed" in html
    html = page.post(
        reverse("invoicing:approve_many"),
        {"ids": [f"{invoice.pk}:{seen}"], "period": "2026-01"},
        follow=True,
    ).content.decode()
    assert refused in html
    response = api(billing_admin).post(
        f"/api/v1/invoices/{invoice.pk}/approve/", {"version": seen}, format="json"
    )
    assert response.status_code == 409 and refused in response.json()["detail"]
    response = api(billing_admin).post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    assert response.status_code == 400 and "version" in response.json()["errors"]
    err = io.StringIO()
    with pytest.raises(CommandError) as exit_info:
        call_command(
            "approve_invoices",
            "--user",
            "bella.admin",
            "--id",
            f"{invoice.pk}@{seen}",
            stderr=err,
            stdout=io.StringIO(),
        )
    assert exit_info.value.returncode == 1 and refused in err.getvalue()
    untouched(invoice)

    out = io.StringIO()
    call_command(
        "approve_invoices",
        "--user",
        "bella.admin",
        "--id",
        f"{invoice.pk}@2",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["approved"] == [
        {"id": invoice.pk, "number": "INV-2026-00001"}
    ]


@pytest.mark.django_db
def test_every_change_to_a_draft_increments_its_version(media, billing_admin):
    invoice = po1()
    line = invoice.lines.first()
    services.invoice_line_adjust(line=line, user=billing_admin, amount="10.00", reason="r")
    services.invoice_line_add(
        invoice=invoice,
        user=billing_admin,
        description="Travel",
        amount="5.00",
        tax_rate="10",
        reason="r",
    )
    services.invoice_run_generate(period=JAN)  # nothing new: not a change
    invoice.refresh_from_db()
    assert invoice.version == 3
    assert list(invoice.adjustments.values_list("kind", "version")) == [("change", 2), ("add", 3)]


# --- 3. no run for a month that is not over --------------------------------------------------


@pytest.mark.django_db
def test_a_run_for_a_future_month_is_refused_on_every_path(media, billing_admin, client_for):
    build_firm()
    refused = "a month is invoiced once it is over"
    with pytest.raises(BillingError, match=refused):
        services.invoice_run_generate(period=dt.date(2099, 1, 1))
    assert InvoiceRun.objects.get().status == "failed"
    with pytest.raises(BillingError, match=refused):
        services.invoice_run_start(period=dt.date(2099, 1, 1), user=billing_admin)
    html = (
        client_for(billing_admin)
        .post(reverse("invoicing:run_start"), {"period": "2099-01"}, follow=True)
        .content.decode()
    )
    assert refused in html
    response = api(billing_admin).post("/api/v1/invoice-runs/", {"period": "2099-01"})
    assert response.status_code == 409 and refused in response.json()["detail"]
    err = io.StringIO()
    with pytest.raises(CommandError) as exit_info:
        call_command("generate_invoices", "--period", "2099-01", stderr=err, stdout=io.StringIO())
    assert exit_info.value.returncode == 1
    from invoicing.tasks import generate_invoices_task

    run = InvoiceRun.objects.create(period=dt.date(2099, 1, 1))
    generate_invoices_task(run.pk)
    run.refresh_from_db()
    assert run.status == "failed" and refused in run.error
    assert not Invoice.objects.exists()
    assert InvoiceRun.objects.filter(status="done").count() == 0


@pytest.mark.django_db
def test_a_draft_dated_after_today_is_not_approved(media, billing_admin):
    from tests.factories import InvoiceFactory, InvoiceLineFactory

    invoice = InvoiceFactory(
        period=dt.date(2099, 1, 1), invoice_date=dt.date(2099, 1, 31), due_date=dt.date(2099, 3, 2)
    )
    InvoiceLineFactory(invoice=invoice)
    with pytest.raises(BillingError, match="after today"):
        services.invoice_approve(invoice=invoice, user=billing_admin, version=1)
    untouched(invoice)


# --- 4. numbering under the lock, the PDF after commit ---------------------------------------


@pytest.mark.django_db
def test_the_number_lock_is_held_for_milliseconds_and_the_pdf_follows_the_commit(
    media, billing_admin, monkeypatch
):
    invoice = po1()
    # 1,500 more entries on the draft: their locking is done before the number is taken.
    employee = invoice.entry_billings.first().entry.employee
    TimeEntryFactory.create_batch(
        1500, date=dt.date(2026, 1, 15), project_code="P100", employee=employee
    )
    services.invoice_run_generate(period=JAN)
    invoice.refresh_from_db()
    assert invoice.entry_billings.count() > 1500
    real_take = numbering.take_number
    taken_at: list[float] = []

    def timed_take(**kwargs):
        result = real_take(**kwargs)
        taken_at.append(time.perf_counter())
        return result

    monkeypatch.setattr(numbering, "take_number", timed_take)
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        started = time.perf_counter()
        done = services.invoice_approve(invoice=invoice, user=billing_admin, version=2)
        returned = time.perf_counter()
    held = returned - taken_at[0]
    print(
        f"approval of {invoice.entry_billings.count()} entries: {returned - started:.3f} s, "
        f"number lock held {held * 1000:.1f} ms"
    )
    assert held < 0.05
    done.refresh_from_db()
    assert (done.status, done.pdf_status, done.pdf.name) == ("approved", "rendering", "")
    with pytest.raises(BillingError, match="still rendering"):
        services.invoice_send(invoice=done, user=billing_admin)
    assert len(callbacks) == 1
    callbacks[0]()  # the worker's render
    done.refresh_from_db()
    assert done.pdf_status == "ready" and done.pdf.read().startswith(b"%PDF")


@pytest.mark.django_db
def test_a_failed_render_never_fails_the_committed_approval(media, billing_admin, monkeypatch):
    invoice = po1()

    def broken(invoice):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr("invoicing.services.approval.invoice_pdf", broken)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = api(billing_admin).post(
            f"/api/v1/invoices/{invoice.pk}/approve/", {"version": 1}, format="json"
        )
    assert response.status_code == 200
    assert (response.json()["number"], response.json()["pdf_status"]) == (
        "INV-2026-00001",
        "rendering",
    )
    pdf = api(billing_admin).get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert pdf.status_code == 202 and pdf["Retry-After"] == "5"
    monkeypatch.undo()
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)
    from invoicing.recovery import stale_runs_requeue

    assert stale_runs_requeue()["unrendered_invoices"] == []  # just approved: the task may run
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=3)):
        assert stale_runs_requeue()["unrendered_invoices"] == [invoice.pk]
        invoice.refresh_from_db()
        assert invoice.pdf_status == "ready"
        assert stale_runs_requeue()["unrendered_invoices"] == []


# --- 9. large previews render in a worker, cached by version ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_large_draft_preview_renders_in_the_worker_and_is_cached_by_version(
    celery_worker, billing_admin, auditor, client_for, settings
):
    settings.BILLING_PREVIEW_INLINE_ENTRIES = 3
    invoice = po1()
    url = reverse("invoicing:pdf", args=[invoice.pk])
    first = client_for(auditor).get(url)
    second = client_for(billing_admin).get(url)
    assert (first.status_code, second.status_code) == (202, 202)
    assert "is being rendered" in first.content.decode() and first["Retry-After"] == "5"
    ready = wait_for(lambda: (r := client_for(auditor).get(url)).status_code == 200 and r, 60)
    assert ready.content.startswith(b"%PDF")
    again = client_for(billing_admin).get(url)
    assert again.status_code == 200 and again.content == ready.content
    services.invoice_line_add(
        invoice=invoice,
        user=billing_admin,
        description="Travel",
        amount="5.00",
        tax_rate="10",
        reason="r",
    )
    assert client_for(auditor).get(url).status_code == 202  # version 2: rendered afresh
    fresh = wait_for(lambda: (r := client_for(auditor).get(url)).status_code == 200 and r, 60)
    assert fresh.content != ready.content
