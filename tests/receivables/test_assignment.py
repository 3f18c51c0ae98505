"""Unassigned payments (SPEC 1.4): they count for no account until finance assigns them; the
assignment is recorded, remembers the payer and allocates as SPEC 4 says; `export_payments`
reads them back (SPEC 5)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from core.errors import BillingError
from receivables import selectors
from receivables.aging import aging_report
from receivables.models import Allocation, KnownPayer, Payment
from receivables.services import payment_assign, payment_import
from tests.factories import AccountFactory
from tests.world import final_invoice

pytestmark = pytest.mark.django_db

D = Decimal
FIXTURES = Path(__file__).parent / "fixtures"
APR3 = dt.date(2026, 4, 3)


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(dt.datetime(2026, 4, 15, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def initech():
    account = AccountFactory(external_id="ACC-300", name="Initech")
    final_invoice(account, "1000.00", dt.date(2026, 3, 31), currency="EUR", seq=5)
    final_invoice(account, "700.00", dt.date(2026, 4, 10), currency="EUR", seq=6)
    return account


@pytest.fixture
def mueller(initech):
    """The Sparkasse statement's unknown payer (Müller Consulting), imported unassigned."""
    acme = AccountFactory(external_id="ACC-100", name="Acme")
    KnownPayer.objects.create(kind="name", key="acme gmbh", account=acme)
    payment_import(file=(FIXTURES / "sparkasse.csv").read_bytes())
    return Payment.objects.get(account__isnull=True)


def test_unassigned_payment_counts_for_no_account(mueller, initech):
    assert mueller.amount == D("1200.00") and mueller.account is None
    report = aging_report(as_of=dt.date(2026, 4, 15))
    # Acme's payment (found by its remembered name) is unapplied cash; Müller's counts nowhere.
    assert [(r.account_external_id, r.currency, r.unapplied) for r in report.rows] == [
        ("ACC-100", "EUR", D("3750.00")),
        ("ACC-300", "EUR", D("0.00")),
    ]
    assert [(r.account.external_id, r.amount) for r in selectors.unapplied_cash()] == [
        ("ACC-100", D("3750.00"))
    ]
    assert list(selectors.unassigned_payments()) == [mueller]


def test_assignment_allocates_records_and_remembers_the_payer(mueller, initech, finance):
    payment_assign(payment=mueller, account=initech, user=finance)
    mueller.refresh_from_db()
    assert (mueller.account, mueller.assigned_by) == (initech, finance)
    assert mueller.history.latest().history_user == finance
    assert list(
        Allocation.objects.order_by("id").values_list("invoice__number", "amount", "date")
    ) == [("INV-2026-00005", D("1000.00"), APR3), ("INV-2026-00006", D("200.00"), APR3)]
    assert sorted(
        KnownPayer.objects.filter(account=initech).values_list(
            "kind", "key", "account__external_id"
        )
    ) == [
        ("iban", "DE44500105175407324931", "ACC-300"),
        ("name", "müller consulting", "ACC-300"),
    ]
    assert KnownPayer.objects.get(kind="iban").history.get().history_user == finance
    report = aging_report(as_of=dt.date(2026, 4, 15))
    assert [(r.account_external_id, r.buckets, r.unapplied) for r in report.rows][1:] == [
        # INV-2026-00006 (due 2026-04-10) has 500.00 open, 5 days past due.
        ("ACC-300", [D("0.00"), D("500.00"), D("0.00"), D("0.00"), D("0.00")], D("0.00"))
    ]
    assert selectors.unassigned_payments().count() == 0

    # The next statement from the same IBAN (MT940, another name spelling) finds the account.
    result = payment_import(file=(FIXTURES / "mt940.sta").read_bytes())
    assert result.notices[3] == (
        "260403-12: EUR 1,200.00 to ACC-300 (found by payer IBAN) applied EUR 500.00 to "
        "INV-2026-00006; EUR 700.00 unapplied"
    )
    assert Payment.objects.get(external_id="260403-12").account == initech


def test_assigning_twice_is_refused_and_changes_nothing(mueller, initech, finance):
    payment_assign(payment=mueller, account=initech, user=finance)
    other = AccountFactory(external_id="ACC-999")
    before = list(Allocation.objects.values_list("id", "amount"))
    with pytest.raises(BillingError) as info:
        payment_assign(payment=mueller, account=other, user=finance)
    assert str(info.value) == f"Payment {mueller.external_id} is already assigned to {initech}."
    mueller.refresh_from_db()
    assert mueller.account == initech
    assert list(Allocation.objects.values_list("id", "amount")) == before


def test_reimport_after_assignment_is_unchanged(mueller, initech, finance):
    payment_assign(payment=mueller, account=initech, user=finance)
    again = payment_import(file=(FIXTURES / "sparkasse.csv").read_bytes())
    assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 2, "errors": []}
    assert Payment.objects.get(pk=mueller.pk).account == initech


def test_assign_through_the_api(mueller, initech, finance, auditor):
    url = f"/api/v1/payments/{mueller.external_id}/assign/"
    refused = APIClient()
    refused.force_authenticate(auditor)
    assert refused.post(url, {"account_id": "ACC-300"}, format="json").status_code == 403
    client = APIClient()
    client.force_authenticate(finance)
    missing = client.post(url, {"account_id": "NOPE"}, format="json")
    assert (missing.status_code, missing.json()["errors"]) == (
        400,
        {"account_id": ["No account with Account ID 'NOPE'."]},
    )
    assert Payment.objects.get(pk=mueller.pk).account is None
    listed = client.get("/api/v1/payments/").json()["results"]
    assert [(p["account_id"], p["payer_name"]) for p in listed if p["source"] == "bank-csv"] == [
        (None, "Müller Consulting"),
        ("ACC-100", "ACME GmbH"),
    ]
    response = client.post(url, {"account_id": "ACC-300"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["account_id"], body["assigned_by"], body["unapplied"]) == (
        "ACC-300",
        "fiona.finance",
        "0.00",
    )
    assert [(a["invoice_number"], a["amount"]) for a in body["allocations"]] == [
        ("INV-2026-00005", "1000.00"),
        ("INV-2026-00006", "200.00"),
    ]


def test_unassigned_page_lists_and_assigns(mueller, initech, client_for, finance, auditor):
    page = client_for(auditor).get(reverse("receivables:unassigned"))
    assert page.status_code == 200
    assert "Müller Consulting" in page.content.decode() and "Assign</button>" not in (
        page.content.decode()
    )
    client = client_for(finance)
    assert "Assign</button>" in client.get(reverse("receivables:unassigned")).content.decode()
    response = client.post(
        reverse("receivables:payment_assign", args=[mueller.pk]), {"account": "ACC-300"}
    )
    assert response.status_code == 302
    assert Payment.objects.get(pk=mueller.pk).account == initech
    detail = client.get(reverse("receivables:payment", args=[mueller.pk])).content.decode()
    assert "Assigned by fiona.finance" in detail
    assert (
        "No unassigned payments." in client.get(reverse("receivables:unassigned")).content.decode()
    )


def test_export_payments_json_and_csv(mueller, initech, finance):
    out = io.StringIO()
    call_command("export_payments", stdout=out)
    assert json.loads(out.getvalue()) == [
        {
            "payment_id": "bank-csv:94a91124d7ded968",
            "date": "2026-04-01",
            "account_id": "ACC-100",
            "amount": "3750.00",
            "currency": "EUR",
            "reference": "Zahlung für INV-2026-00001",
            "method": "GUTSCHR. UEBERWEISUNG",
            "source": "bank-csv",
            "allocations": [],
        },
        {
            "payment_id": "bank-csv:b2c4e0d62b515488",
            "date": "2026-04-03",
            "account_id": None,
            "amount": "1200.00",
            "currency": "EUR",
            "reference": "Abschlag April",
            "method": "GUTSCHR. UEBERWEISUNG",
            "source": "bank-csv",
            "allocations": [],
        },
    ]
    payment_assign(payment=mueller, account=initech, user=finance)
    out = io.StringIO()
    call_command("export_payments", "--format", "csv", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == [
        "payment_id", "date", "account_id", "amount", "currency", "reference", "method",
        "source", "invoice_number", "allocation_amount", "allocation_date",
    ]  # fmt: skip
    assert [r[0][-4:] + " " + " ".join(r[2:4] + r[8:]) for r in rows[1:]] == [
        "d968 ACC-100 3750.00   ",
        "5488 ACC-300 1200.00 INV-2026-00005 1000.00 2026-04-03",
        "5488 ACC-300 1200.00 INV-2026-00006 200.00 2026-04-03",
    ]
