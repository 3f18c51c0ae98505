"""Read endpoints: representations (external keys, decimals as strings), pagination, filters,
ordering, retrieve by external key."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import AgreementFactory, InvoiceFactory, TimeEntryFactory

pytestmark = pytest.mark.django_db


def test_agreement_retrieve_by_agreement_id_with_rate_card(api_for, auditor, world):
    response = api_for(auditor).get("/api/v1/agreements/AGR-1/")
    assert response.status_code == 200
    body = response.json()
    assert body["agreement_id"] == "AGR-1"
    assert body["account_id"] == "ACC-1"
    assert body["account_name"] == "Acme Corp"
    assert body["project_code"] == "ACME"
    assert body["agreement_type"] == "time_and_materials"
    assert body["stage"] == "signed"
    assert body["hourly_rate"] == "150.00"
    assert body["tax_rate"] == "0.000"
    assert body["role_rates"] == [{"role": "Engineer", "rate": "175.00"}]
    assert body["parent_agreement_id"] is None


def test_time_entry_shows_hours_as_decimal_string(api_for, billing_admin, world):
    body = api_for(billing_admin).get("/api/v1/time-entries/1001/").json()
    assert body["entry_id"] == "1001"
    assert body["employee_id"] == "E1"
    assert body["hours"] == "1.0000"
    assert body["duration_ms"] == 3_600_000
    assert body["date"] == "2026-01-15"


def test_invoice_detail_has_lines_and_entry_ids(api_for, finance, world):
    body = api_for(finance).get(f"/api/v1/invoices/{world.draft.pk}/").json()
    assert body["number"] is None
    assert body["status"] == "draft"
    assert body["period"] == "2026-01"
    assert body["total"] == "175.00"
    assert body["open_amount"] == "175.00"
    assert body["entry_ids"] == ["1001"]
    assert [
        (line["agreement_id"], line["hours"], line["rate"], line["amount"])
        for line in body["lines"]
    ] == [("AGR-1", "1.00", "175.00", "175.00")]


def test_open_amount_subtracts_allocations_and_credit_notes(api_for, auditor, world):
    body = api_for(auditor).get(f"/api/v1/invoices/{world.approved.pk}/").json()
    # 1000.00 - allocation 300.00 - credit note 100.00
    assert body["open_amount"] == "600.00"
    assert body["number"] == "INV-2025-00001"


def test_invoice_list_filters_by_status_account_and_period(api_for, billing_admin, world):
    InvoiceFactory(period=dt.date(2026, 1, 1))  # another account
    client = api_for(billing_admin)
    drafts = client.get("/api/v1/invoices/", {"status": "draft", "account": "ACC-1"}).json()
    assert [i["id"] for i in drafts["results"]] == [world.draft.pk]
    january = client.get("/api/v1/invoices/", {"period": "2026-01"}).json()
    assert january["count"] == 2
    several = client.get("/api/v1/invoices/?status=approved&status=draft&account=ACC-1").json()
    assert several["count"] == 3
    assert client.get("/api/v1/invoices/", {"period": "2025-12"}).json()["count"] == 1


def test_bad_filter_value_is_400_with_field_details(api_for, billing_admin, world):
    response = api_for(billing_admin).get("/api/v1/invoices/", {"period": "January"})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {"period": ["Must be a month as YYYY-MM, e.g. 2026-01."]}
    assert "period" in body["detail"]
    response = api_for(billing_admin).get("/api/v1/invoices/", {"status": "lost"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["status"]


def test_pagination_page_size_and_its_maximum(api_for, auditor, db):
    AgreementFactory.create_batch(7)
    client = api_for(auditor)
    first = client.get("/api/v1/agreements/", {"page_size": 3}).json()
    assert first["count"] == 7
    assert len(first["results"]) == 3
    assert first["next"].endswith("/api/v1/agreements/?page=2&page_size=3")
    assert first["previous"] is None
    last = client.get("/api/v1/agreements/", {"page_size": 3, "page": 3}).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    big = client.get("/api/v1/agreements/", {"page_size": 100000}).json()
    assert len(big["results"]) == 7  # capped at 500, all fit
    missing = client.get("/api/v1/agreements/", {"page": 9})
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("Page 9 does not exist")


def test_pagination_max_page_size_is_500(api_for, auditor, db):
    from core.api import StandardPagination

    assert StandardPagination.max_page_size == 500
    assert StandardPagination.page_size == 50


def test_ordering(api_for, auditor, db):
    AgreementFactory(external_id="B", start_date=dt.date(2026, 3, 1))
    AgreementFactory(external_id="A", start_date=dt.date(2026, 5, 1))
    AgreementFactory(external_id="C", start_date=dt.date(2026, 1, 1))
    client = api_for(auditor)
    default = [a["agreement_id"] for a in client.get("/api/v1/agreements/").json()["results"]]
    assert default == ["A", "B", "C"]
    by_start = client.get("/api/v1/agreements/", {"ordering": "-start_date"}).json()["results"]
    assert [a["agreement_id"] for a in by_start] == ["A", "B", "C"][::1] and [
        a["start_date"] for a in by_start
    ] == ["2026-05-01", "2026-03-01", "2026-01-01"]
    ignored = client.get("/api/v1/agreements/", {"ordering": "secret_field"}).json()["results"]
    assert [a["agreement_id"] for a in ignored] == ["A", "B", "C"]


def test_time_entry_filters(api_for, services_manager, world):
    TimeEntryFactory(
        external_id="2001", project_code="OTHER", billable=False, date=dt.date(2026, 2, 1)
    )
    client = api_for(services_manager)

    def ids(params):
        return [
            e["entry_id"] for e in client.get("/api/v1/time-entries/", params).json()["results"]
        ]

    assert ids({"project_code": "ACME"}) == ["1001", "1002"]
    assert ids({"billable": "false"}) == ["2001"]
    assert ids({"date_from": "2026-01-16", "date_to": "2026-01-31"}) == ["1002"]
    assert ids({"employee": "E1"}) == ["1001", "1002"]


def test_flag_list_filters_by_code_and_status(api_for, services_manager, world):
    client = api_for(services_manager)
    body = client.get("/api/v1/flags/", {"code": "OVER_CAP", "status": "open"}).json()
    assert body["count"] == 1
    flag = body["results"][0]
    assert flag["entry_id"] == "1002"
    assert flag["agreement_id"] == "AGR-1"
    assert flag["blocks_billing"] is True
    assert client.get("/api/v1/flags/", {"status": "released"}).json()["count"] == 0


def test_payment_by_payment_id_with_allocations(api_for, finance, world):
    body = api_for(finance).get("/api/v1/payments/PAY-1/").json()
    assert body["amount"] == "600.00"
    assert body["applied"] == "300.00"
    assert body["unapplied"] == "300.00"
    assert [(a["invoice_number"], a["amount"]) for a in body["allocations"]] == [
        ("INV-2025-00001", "300.00")
    ]
    unapplied = api_for(finance).get("/api/v1/payments/", {"unapplied": "true"}).json()
    assert [p["payment_id"] for p in unapplied["results"]] == ["PAY-1"]


def test_unknown_record_and_unknown_address_are_json_404(api_for, auditor, world):
    client = api_for(auditor)
    missing = client.get("/api/v1/agreements/NOPE/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found: no such record, or it is not visible to you."}
    assert client.get("/api/v1/invoices/abc/").status_code == 404
    assert client.get("/api/v1/invoices/99999999999999999999/").status_code == 404
    nowhere = client.get("/api/v1/no-such-thing/")
    assert nowhere.status_code == 404
    assert nowhere["Content-Type"] == "application/json"
    assert "No API endpoint" in nowhere.json()["detail"]


def test_aging_report_json_csv_xlsx(api_for, finance, world):
    client = api_for(finance)
    body = client.get("/api/v1/reports/ar-aging/", {"as_of": "2026-02-15"}).json()
    assert body["as_of"] == "2026-02-15"
    # Approved 1000 due 2026-01-30 (16 days late) less 300 allocation less 100 credit note;
    # disputed 500 due 2025-12-30 (47 days); unapplied 300 of PAY-1.
    assert body["rows"] == [
        {
            "account_id": "ACC-1",
            "account_name": "Acme Corp",
            "currency": "USD",
            "current": "0.00",
            "1-30": "600.00",
            "31-60": "500.00",
            "61-90": "0.00",
            "91+": "0.00",
            "unapplied": "300.00",
            "total": "800.00",
        }
    ]
    csv = client.get("/api/v1/reports/ar-aging/", {"as_of": "2026-02-15", "format": "csv"})
    assert csv.status_code == 200
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.content.decode().splitlines() == [
        "Account ID,Account Name,Currency,Current,1-30,31-60,61-90,91+,Unapplied,Total",
        "ACC-1,Acme Corp,USD,0.00,600.00,500.00,0.00,0.00,300.00,800.00",
        "TOTAL,,USD,0.00,600.00,500.00,0.00,0.00,300.00,800.00",
    ]
    xlsx = client.get("/api/v1/reports/ar-aging/", {"as_of": "2026-02-15", "format": "xlsx"})
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"
    bad = client.get("/api/v1/reports/ar-aging/", {"format": "pdf"})
    assert bad.status_code == 400
    assert list(bad.json()["errors"]) == ["format"]
    bad_date = client.get("/api/v1/reports/ar-aging/", {"as_of": "31/01/2026"})
    assert bad_date.status_code == 400
    assert list(bad_date.json()["errors"]) == ["as_of"]


def test_decimal_amounts_are_strings_everywhere(api_for, auditor, world):
    body = api_for(auditor).get("/api/v1/credit-notes/").json()
    assert body["results"][0]["amount"] == "100.00"
    assert isinstance(body["results"][0]["amount"], str)
    assert Decimal(body["results"][0]["amount"]) == Decimal("100")
