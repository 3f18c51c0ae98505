"""Mapping files on the API imports (SPEC 1.4): a `mapping` field with the mapping file's JSON, or
the name of a mapping saved from the upload page; a bad one answers 400 naming the problem."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from agreements.models import Agreement
from core.models import SavedMapping
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
OURS = b"Ref,Day,Person,Job,Time,Chargeable\nA1,03/11/2026,ann,P1,1:15,oui\nA2,03/12/2026,bo,P1,2,non\n"
MAPPING = {
    "columns": {"Entry ID": "Ref", "Date": "Day", "Employee ID": "Person", "Project Code": "Job",
                "Hours": "Time", "Billable": "Chargeable"},
    "values": {"Billable": {"oui": "yes", "non": "no"}},
    "date_order": "dmy",
}  # fmt: skip


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def entries() -> list[tuple]:
    return list(
        TimeEntry.objects.order_by("external_id").values_list(
            "external_id", "date", "employee__external_id", "duration_ms", "billable"
        )
    )


def test_mapping_json_as_a_form_field(billing_admin):
    file = SimpleUploadedFile("ours.csv", OURS, "text/csv")
    response = api(billing_admin).post(
        "/api/v1/time-entries/import/", {"file": file, "mapping": json.dumps(MAPPING)}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 2
    rows = entries()
    assert [(r[0], r[1].isoformat(), r[2], r[3], r[4]) for r in rows] == [
        ("A1", "2026-11-03", "ann", 4_500_000, True),
        ("A2", "2026-12-03", "bo", 7_200_000, False),
    ]


def test_saved_mapping_by_name_and_json_rows(billing_admin):
    SavedMapping.objects.create(kind="time_entries", name="Our tracker", data=MAPPING)
    client = api(billing_admin)
    file = SimpleUploadedFile("ours.csv", OURS, "text/csv")
    response = client.post(
        "/api/v1/time-entries/import/?dry_run=1", {"file": file, "mapping": "Our tracker"}
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["created"], TimeEntry.objects.count()) == (2, 0)
    # A JSON list keyed by the file's columns, the mapping named in the query string.
    rows = [{"Ref": "A1", "Day": "03/11/2026", "Person": "ann", "Job": "P1", "Time": "1:15",
             "Chargeable": "oui"}]  # fmt: skip
    response = client.post(
        "/api/v1/time-entries/import/?mapping=Our%20tracker", rows, format="json"
    )
    assert response.status_code == 200, response.json()
    entry = TimeEntry.objects.get()
    assert (entry.external_id, entry.date.isoformat(), entry.billable) == ("A1", "2026-11-03", True)


@pytest.mark.parametrize(
    "value, message",
    [
        ("No such mapping", "is neither a mapping file's JSON nor the name of a saved mapping"),
        ('{"columns": {"Nope": "Ref"}}', "'Nope' is not one of our columns"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_bad_mapping_answers_400_and_writes_nothing(billing_admin, value, message):
    file = SimpleUploadedFile("ours.csv", OURS, "text/csv")
    response = api(billing_admin).post(
        "/api/v1/time-entries/import/", {"file": file, "mapping": value}
    )
    assert response.status_code == 400
    assert message in json.dumps(response.json())
    assert not TimeEntry.objects.exists()


def test_agreements_api_takes_a_crm_mapping(billing_admin):
    crm = (
        b"Deal,Company ID,Company,Code,Kind,Phase,Begins,Rate\n"
        b"D-1,ACC-1,Acme,PRJ-1,T&M,Closed won,2026-01-01,150\n"
    )
    mapping = {
        "columns": {"Agreement ID": "Deal", "Account ID": "Company ID", "Account Name": "Company",
                    "Project Code": "Code", "Agreement Type": "Kind", "Stage": "Phase",
                    "Start Date": "Begins", "Hourly Rate": "Rate"},
        "values": {"Agreement Type": {"T&M": "Time and Materials"}},
    }  # fmt: skip
    file = SimpleUploadedFile("crm.csv", crm, "text/csv")
    response = api(billing_admin).post(
        "/api/v1/agreements/import/", {"file": file, "mapping": json.dumps(mapping)}
    )
    assert response.status_code == 200, response.json()
    agreement = Agreement.objects.get()
    assert (agreement.external_id, agreement.agreement_type, agreement.stage) == (
        "D-1", "time_and_materials", "signed",
    )  # fmt: skip
