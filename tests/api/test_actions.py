"""Writes through the API call the services and record who did it: imports, flags, runs,
approve / reject / adjust / send, PDFs, credit notes, payments, allocations, disputes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from agreements.models import Agreement
from invoicing.models import CreditNote, EntryBilling, Invoice, InvoiceRun
from receivables.models import Allocation, Payment
from timesheets.models import Flag, ReconciliationRun, TimeEntry

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]

AGREEMENTS_CSV = (
    "Agreement ID,Account ID,Account Name,Project Code,Agreement Type,Stage,Start Date,Hourly Rate\r\n"
    "AGR-10,ACC-9,Globex,GLOBEX,Time and Materials,Signed,2026-01-01,120\r\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_agreement_import_json_list_then_again_unchanged(api_for, billing_admin, db):
    row = {
        "Agreement ID": "AGR-10",
        "Account ID": "ACC-9",
        "Account Name": "Globex",
        "Project Code": "GLOBEX",
        "Agreement Type": "Time and Materials",
        "Stage": "Signed",
        "Start Date": "2026-01-01",
        "Hourly Rate": 120,
    }
    client = api_for(billing_admin)
    first = client.post("/api/v1/agreements/import/", [row], format="json")
    assert first.status_code == 200
    assert first.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
        "dry_run": False,
        "source": "billable",
    }
    again = client.post("/api/v1/agreements/import/", [row], format="json")
    assert again.json()["unchanged"] == 1
    agreement = Agreement.objects.get(external_id="AGR-10")
    assert agreement.hourly_rate == Decimal("120.00")
    assert agreement.history.first().history_user == billing_admin


def test_agreement_import_csv_upload_and_raw_csv_body(api_for, services_manager, db):
    client = api_for(services_manager)
    dry = client.post(
        "/api/v1/agreements/import/?dry_run=1",
        {"file": SimpleUploadedFile("crm.csv", AGREEMENTS_CSV.encode())},
        format="multipart",
    )
    assert dry.json() == {
        "created": 1, "updated": 0, "unchanged": 0, "errors": [], "dry_run": True,
        "source": "billable",
    }  # fmt: skip
    assert not Agreement.objects.exists()
    raw = client.generic(
        "POST", "/api/v1/agreements/import/", AGREEMENTS_CSV.encode(), content_type="text/csv"
    )
    assert raw.status_code == 200
    assert raw.json()["created"] == 1
    assert Agreement.objects.filter(external_id="AGR-10").exists()


def test_rejected_import_is_400_with_line_and_column_and_writes_nothing(api_for, billing_admin, db):
    bad = (
        AGREEMENTS_CSV + "AGR-11,ACC-9,Globex,GLOBEX2,Time and Materials,Signed,2026-13-01,120\r\n"
    )
    response = api_for(billing_admin).post(
        "/api/v1/agreements/import/",
        {"file": SimpleUploadedFile("crm.csv", bad.encode())},
        format="multipart",
    )
    assert response.status_code == 400
    body = response.json()
    assert [(e["line"], e["column"]) for e in body["errors"]] == [(3, "Start Date")]
    assert body["detail"].startswith(
        "The import was rejected and nothing was written: 1 problem(s)"
    )
    assert not Agreement.objects.exists()


def test_time_entry_import(api_for, services_manager, world):
    row = {
        "Entry ID": "9001",
        "Date": "2026-01-20",
        "Employee ID": "E1",
        "Project Code": "ACME",
        "Hours": "1:30",
        "Billable": "yes",
    }
    response = api_for(services_manager).post("/api/v1/time-entries/import/", [row], format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert TimeEntry.objects.get(external_id="9001").duration_ms == 5_400_000


def test_payment_import_allocates(api_for, finance, world):
    rows = [
        {
            "Payment ID": "PAY-2",
            "Date": "2026-02-01",
            "Account ID": "ACC-1",
            "Amount": "100.00",
            "Reference": "INV-2025-00001",
        }
    ]
    response = api_for(finance).post("/api/v1/payments/import/", rows, format="json")
    assert response.status_code == 200
    assert response.json()["created"] == 1
    payment = Payment.objects.get(external_id="PAY-2")
    assert [(a.invoice_id, a.amount) for a in payment.allocations.all()] == [
        (world.approved.pk, Decimal("100.00"))
    ]


def test_flag_release_records_who_and_why(api_for, services_manager, world):
    response = api_for(services_manager).post(
        f"/api/v1/flags/{world.over_cap_flag.pk}/release/",
        {"reason": "Customer approved"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "released"
    assert body["reason"] == "Customer approved"
    assert body["actioned_by"] == "sam.manager"
    flag = Flag.objects.get(pk=world.over_cap_flag.pk)
    assert flag.history.first().history_user == services_manager


def test_flag_write_off(api_for, services_manager, world):
    response = api_for(services_manager).post(
        f"/api/v1/flags/{world.over_cap_flag.pk}/write-off/",
        {"reason": "Not billable"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["status"] == "written_off"


def test_release_needs_a_reason(api_for, services_manager, world):
    response = api_for(services_manager).post(
        f"/api/v1/flags/{world.over_cap_flag.pk}/release/", {"reason": ""}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason"]
    assert Flag.objects.get(pk=world.over_cap_flag.pk).status == "open"


def test_reconciliation_run_start_and_poll(api_for, services_manager, world):
    client = api_for(services_manager)
    response = client.post("/api/v1/reconciliation-runs/", {"as_of": "2026-02-01"}, format="json")
    assert response.status_code == 202
    run = response.json()
    assert run["as_of"] == "2026-02-01"
    assert run["status"] == "queued"
    assert run["started_by"] == "sam.manager"
    polled = client.get(f"/api/v1/reconciliation-runs/{run['id']}/").json()
    assert polled["id"] == run["id"]
    assert ReconciliationRun.objects.filter(pk=run["id"]).exists()


def test_invoice_run_start_and_poll(api_for, billing_admin, world):
    client = api_for(billing_admin)
    response = client.post("/api/v1/invoice-runs/", {"period": "2026-02"}, format="json")
    assert response.status_code == 202
    run = response.json()
    assert run["period"] == "2026-02"
    assert run["status"] == "queued"
    assert response["Location"] == f"/api/v1/invoice-runs/{run['id']}/"
    assert client.get(response["Location"]).json()["progress_percent"] == 0
    assert InvoiceRun.objects.get(pk=run["id"]).started_by == billing_admin
    bad = client.post("/api/v1/invoice-runs/", {"period": "2026-2"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"period": ["Must be a month as YYYY-MM, e.g. 2026-01."]}


def test_invoice_run_completes_with_eager_tasks(
    api_for, billing_admin, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(billing_admin).post(
            "/api/v1/invoice-runs/", {"period": "2026-01"}, format="json"
        )
    run = api_for(billing_admin).get(f"/api/v1/invoice-runs/{response.json()['id']}/").json()
    assert run["status"] == "done"
    assert run["progress_percent"] == 100


def test_approve_numbers_and_freezes(api_for, billing_admin, world):
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker's render after commit
        response = api_for(billing_admin).post(
            f"/api/v1/invoices/{world.draft.pk}/approve/", {"version": 1}, format="json"
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "approved"
    assert body["number"] == "INV-2026-00001"
    assert body["approved_by"] == "bella.admin"
    assert body["pdf_status"] == "rendering"  # the answer left before the render
    assert TimeEntry.objects.get(external_id="1001").locked is True
    pdf = api_for(billing_admin).get(f"/api/v1/invoices/{world.draft.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="INV-2026-00001.pdf"' in pdf["Content-Disposition"]


def test_draft_pdf_is_a_preview(api_for, auditor, world):
    response = api_for(auditor).get(f"/api/v1/invoices/{world.draft.pk}/pdf/")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_adjust_then_the_same_admin_cannot_approve(
    api_for, billing_admin, second_billing_admin, world
):
    client = api_for(billing_admin)
    adjusted = client.post(
        f"/api/v1/invoices/{world.draft.pk}/adjust/",
        {"line": world.draft_line.pk, "amount": "150.00", "reason": "Discount"},
        format="json",
    )
    assert adjusted.status_code == 200
    assert adjusted.json()["total"] == "150.00"
    assert adjusted.json()["lines"][0]["adjustment_reason"] == "Discount"
    added = client.post(
        f"/api/v1/invoices/{world.draft.pk}/adjust/",
        {"description": "Travel", "amount": "40.00", "reason": "Agreed travel", "tax_rate": "10"},
        format="json",
    )
    assert added.json()["total"] == "194.00"  # 150 + 40 + tax 4.00
    version = added.json()["version"]
    assert version == 3
    refused = client.post(
        f"/api/v1/invoices/{world.draft.pk}/approve/", {"version": version}, format="json"
    )
    assert refused.status_code == 409
    assert "another billing admin must approve it" in refused.json()["detail"]
    assert Invoice.objects.get(pk=world.draft.pk).status == "draft"
    approved = api_for(second_billing_admin).post(
        f"/api/v1/invoices/{world.draft.pk}/approve/", {"version": version}, format="json"
    )
    assert approved.status_code == 200


def test_adjust_a_line_of_another_invoice_is_refused(api_for, billing_admin, world):
    other_line = world.approved.lines.first()
    response = api_for(billing_admin).post(
        f"/api/v1/invoices/{world.draft.pk}/adjust/",
        {"line": other_line.pk, "amount": "1.00", "reason": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert Invoice.objects.get(pk=world.draft.pk).total == Decimal("175.00")


def test_reject_returns_entries_to_the_pool(api_for, billing_admin, world):
    response = api_for(billing_admin).post(
        f"/api/v1/invoices/{world.draft.pk}/reject/", {"reason": "Wrong PO"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["rejection_reason"] == "Wrong PO"
    assert not EntryBilling.objects.filter(invoice=world.draft).exists()


def test_send_mails_the_pdf(api_for, billing_admin, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(billing_admin).post(f"/api/v1/invoices/{world.approved.pk}/send/")
    assert response.status_code == 200
    assert response.json()["status"] == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0] == "INV-2025-00001.pdf"


def test_credit_note(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/credit-notes/",
        {
            "invoice": world.approved.pk,
            "amount": "50.00",
            "reason": "Goodwill",
            "date": "2026-02-01",
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["number"] == "CN-2026-00001"
    assert body["amount"] == "50.00"
    assert body["invoice_number"] == "INV-2025-00001"
    detail = api_for(finance).get(f"/api/v1/invoices/{world.approved.pk}/").json()
    assert detail["open_amount"] == "550.00"
    too_much = api_for(finance).post(
        "/api/v1/credit-notes/",
        {"invoice": world.approved.pk, "amount": "600.00", "reason": "All"},
        format="json",
    )
    assert too_much.status_code == 409
    assert CreditNote.objects.filter(invoice=world.approved).count() == 2


def test_record_payment_allocates_oldest_first(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/payments/",
        {"account_id": "ACC-1", "date": "2026-02-01", "amount": "700.00", "payment_id": "PAY-5"},
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["payment_id"] == "PAY-5"
    # The disputed invoice is skipped: 600.00 open on INV-2025-00001, 100.00 unapplied.
    assert [(a["invoice_number"], a["amount"]) for a in body["allocations"]] == [
        ("INV-2025-00001", "600.00")
    ]
    assert body["unapplied"] == "100.00"


def test_apply_and_reverse_an_allocation(api_for, finance, world):
    client = api_for(finance)
    applied = client.post(
        "/api/v1/allocations/",
        {"payment_id": "PAY-1", "invoice": world.approved.pk, "amount": "50.00"},
        format="json",
    )
    assert applied.status_code == 201
    allocation_id = applied.json()["id"]
    reversed_ = client.post(
        f"/api/v1/allocations/{allocation_id}/reverse/", {"reason": "Wrong invoice"}, format="json"
    )
    assert reversed_.status_code == 200
    assert reversed_.json()["reversal_reason"] == "Wrong invoice"
    assert Allocation.objects.get(pk=allocation_id).reversed_by == finance
    again = client.post(
        f"/api/v1/allocations/{allocation_id}/reverse/", {"reason": "Again"}, format="json"
    )
    assert again.status_code == 409


def test_apply_unknown_payment_names_the_field(api_for, finance, world):
    response = api_for(finance).post(
        "/api/v1/allocations/",
        {"payment_id": "NOPE", "invoice": 999999, "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"payment_id", "invoice"}


def test_dispute_and_clear(api_for, finance, world):
    client = api_for(finance)
    disputed = client.post(
        f"/api/v1/invoices/{world.approved.pk}/dispute/",
        {"reason": "Hours questioned"},
        format="json",
    )
    assert disputed.status_code == 200
    assert disputed.json()["disputed"] is True
    assert disputed.json()["dispute_reason"] == "Hours questioned"
    cleared = client.post(f"/api/v1/invoices/{world.approved.pk}/clear-dispute/")
    assert cleared.status_code == 200
    assert cleared.json()["disputed"] is False
    assert (
        client.post("/api/v1/invoices/999999/dispute/", {"reason": "x"}, format="json").status_code
        == 404
    )
