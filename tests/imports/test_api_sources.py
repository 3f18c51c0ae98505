"""Vendor sources through the API imports (SPEC 1.4, 6): a `source` field or the header's own
detection on each of /api/v1/time-entries/import/, /api/v1/agreements/import/ and
/api/v1/payments/import/; the answer names the source it read, the rows are stored as the same
file imports on the command line; `replace_period` on the time-entry import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from agreements.models import Agreement
from core.models import ImportRecord
from receivables.models import KnownPayer, Payment
from tests.factories import AccountFactory
from tests.imports.data import snapshot
from tests.receivables.test_statements import CASES
from tests.receivables.test_statements import FIXTURES as STATEMENTS
from tests.receivables.test_statements import stored as stored_payments
from tests.world import final_invoice
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"
ENTRIES = "/api/v1/time-entries/import/"


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def stored_entries() -> list[tuple]:
    return [
        (e.employee.external_id, e.date.isoformat(), e.project_code, e.hours, e.billable,
         e.approved, e.notes, e.source, e.external_id.split(":")[0])
        for e in TimeEntry.objects.select_related("employee").order_by("date", "employee__name",
                                                                       "pk")
    ]  # fmt: skip


# --- time entries -------------------------------------------------------------------------------


def test_harvest_export_with_source_harvest(billing_admin):
    response = api(billing_admin).post(
        ENTRIES, {"file": upload("harvest.csv", fixture("harvest.csv")), "source": "harvest"}
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "created": 3, "updated": 0, "unchanged": 0, "errors": [], "dry_run": False,
        "source": "harvest",
    }  # fmt: skip
    assert stored_entries() == [
        ("Ann Smith", "2026-11-02", "ACME-WEB", Decimal("3.5"), True, True,
         "Homepage, second round", "harvest", "harvest"),
        ("Bo Chen", "2026-11-02", "Support retainer", Decimal("0.75"), True, False, "Ticket 4411",
         "harvest", "harvest"),
        ("Ann Smith", "2026-11-03", "Internal", Decimal("1"), False, True, "", "harvest",
         "harvest"),
    ]  # fmt: skip
    record = ImportRecord.objects.get()
    assert (record.source, record.user, record.file_name, record.created) == (
        "harvest", billing_admin, "harvest.csv", 3
    )  # fmt: skip
    # The same export again changes nothing: the derived Entry IDs are stable.
    before = snapshot()
    again = api(billing_admin).post(
        ENTRIES, {"file": upload("harvest.csv", fixture("harvest.csv")), "source": "harvest"}
    )
    assert (again.json()["unchanged"], again.json()["created"]) == (3, 0)
    assert snapshot() == before


def test_a_toggl_export_is_recognised_from_its_header(billing_admin):
    # A raw text/csv body, no source named: the header says it is Toggl's detailed report.
    response = api(billing_admin).generic(
        "POST", ENTRIES, fixture("toggl.csv"), content_type="text/csv"
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["source"]) == (3, "toggl")
    assert stored_entries() == [
        ("ann@example.com", "2026-11-02", "ACME-WEB", Decimal("1.5"), True, True,
         "Design, round 2", "toggl", "toggl"),
        ("ann@example.com", "2026-11-02", "ACME-WEB", Decimal("1.5"), True, True,
         "Design, round 2", "toggl", "toggl"),
        ("Bo Chen", "2026-11-03", "ACME-SUP", Decimal("0.25"), False, True, "Standup", "toggl",
         "toggl"),
    ]  # fmt: skip
    assert len(set(TimeEntry.objects.values_list("external_id", flat=True))) == 3


def test_a_source_that_does_not_fit_the_file_is_refused_and_writes_nothing(billing_admin):
    before = snapshot()
    response = api(billing_admin).post(
        ENTRIES, {"file": upload("toggl.csv", fixture("toggl.csv")), "source": "harvest"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["created"] == 0 and body["errors"][0]["line"] == 1
    assert "required column is missing" in body["errors"][0]["message"]
    assert snapshot() == before
    response = api(billing_admin).post(
        ENTRIES, {"file": upload("toggl.csv", fixture("toggl.csv")), "source": "excel"}
    )
    assert response.status_code == 400
    assert "Must be one of auto, billable, harvest" in json.dumps(response.json())


def test_replace_period_on_the_api(billing_admin):
    client = api(billing_admin)
    client.post(ENTRIES, {"file": upload("toggl.csv", fixture("toggl.csv"))})
    lines = fixture("toggl.csv").splitlines()
    again = b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    # Without replace_period nothing is removed.
    response = client.post(ENTRIES, {"file": upload("toggl.csv", again)})
    assert response.status_code == 200 and "deleted" not in response.json()
    assert TimeEntry.objects.count() == 3
    response = client.post(
        f"{ENTRIES}?replace_period=1&dry_run=1", {"file": upload("toggl.csv", again)}
    )
    assert (response.status_code, response.json()["deleted"]) == (200, 1)
    assert TimeEntry.objects.count() == 3
    response = client.post(f"{ENTRIES}?replace_period=1", {"file": upload("toggl.csv", again)})
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "created": 0, "updated": 0, "unchanged": 2, "deleted": 1, "errors": [], "dry_run": False,
        "source": "toggl",
    }  # fmt: skip
    assert TimeEntry.objects.filter(notes="Design, round 2").count() == 1
    assert ImportRecord.objects.order_by("pk").last().deleted == 1
    response = client.post(f"{ENTRIES}?replace_period=maybe", {"file": upload("t.csv", again)})
    assert response.status_code == 400
    assert "replace_period" in response.json()["errors"]


# --- agreements ---------------------------------------------------------------------------------


def test_salesforce_report_with_a_mapping(billing_admin):
    client = api(billing_admin)
    mapping = fixture("salesforce-mapping.json").decode()
    before = snapshot()
    refused = client.post(
        "/api/v1/agreements/import/", {"file": upload("sf.csv", fixture("salesforce.csv"))}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"line": 1, "column": "Agreement Type", "message": "required column is missing from the "
         "header; the Salesforce report export has no such column: add it with a mapping file"},
    ]  # fmt: skip
    assert snapshot() == before
    response = client.post(
        "/api/v1/agreements/import/",
        {"file": upload("sf.csv", fixture("salesforce.csv")), "mapping": mapping},
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], response.json()["source"]) == (2, "salesforce")
    assert [
        (a.external_id, a.account.external_id, a.account.name, a.project_code, a.agreement_type,
         a.stage, a.start_date.isoformat(), a.amount, a.hourly_rate)
        for a in Agreement.objects.select_related("account").order_by("external_id")
    ] == [
        ("006Dn000001SupB", "001Dn00000Acme1", "Acme Ltd", "Acme support 2027",
         "time_and_materials", "draft", "2026-12-15", Decimal("35000.00"), Decimal("175.00")),
        ("006Dn000001WebA", "001Dn00000Acme1", "Acme Ltd", "Acme website relaunch", "fixed_fee",
         "signed", "2026-11-01", Decimal("12500.00"), None),
    ]  # fmt: skip
    assert ImportRecord.objects.get().source == "salesforce"


# --- payments -----------------------------------------------------------------------------------


@pytest.fixture
def statement_world():
    """The accounts, open invoices and remembered payer that test_statements' camt.053 case
    expects (the same invoice numbers)."""
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        acme = AccountFactory(external_id="ACC-100", name="Acme")
        globex = AccountFactory(external_id="ACC-200", name="Globex")
        initech = AccountFactory(external_id="ACC-300", name="Initech")
        due = dt.date(2026, 3, 31)
        final_invoice(acme, "3750.00", due, currency="EUR", seq=1)
        final_invoice(acme, "1500.00", due, currency="USD", seq=2)
        final_invoice(globex, "200.00", due, currency="EUR", seq=3)
        final_invoice(globex, "1000.00", due, currency="USD", seq=4)
        KnownPayer.objects.create(kind="name", key="initech sarl", account=initech)
        yield


@pytest.mark.parametrize("source", ["camt053", None])
def test_camt053_statement_on_the_payments_api(statement_world, finance, source):
    data = (STATEMENTS / "camt053.xml").read_bytes()
    fields = {"file": SimpleUploadedFile("statement.xml", data, "application/xml")}
    if source:
        fields["source"] = source
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        response = api(finance).post("/api/v1/payments/import/", fields)
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "created": 4, "updated": 0, "unchanged": 0, "errors": [], "dry_run": False,
        "source": "camt053",
    }  # fmt: skip
    expected = CASES["camt053.xml"][2]
    assert stored_payments() == sorted(expected, key=lambda row: (row[1], row[0]))
    assert Payment.objects.filter(account__isnull=True).count() == 1
    record = ImportRecord.objects.get()
    assert (record.kind, record.source, record.user, record.file_name) == (
        "payments", "camt053", finance, "statement.xml"
    )  # fmt: skip
