"""Finance dispute pages (list with age against SLA, KPIs, detail, actions) and the API resource."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from core.tokens import token_create
from receivables import disputes
from receivables.models import Dispute
from tests.factories import AccountFactory
from tests.world import invoice_with_lines

NOW = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BILLING_DISPUTE_FOUR_EYES_AMOUNT = "500.00"
    settings.BILLING_DISPUTE_CATEGORIES = {
        "overbilling": ("Overbilling", 10),
        "other": ("Other", 20),
    }


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_create(user=user)[1]}")
    return client


@pytest.mark.django_db
def test_list_shows_age_against_sla_and_kpis(finance, client_for, django_assert_max_num_queries):
    acc = AccountFactory(name="Acme Pages Ltd")
    late = invoice_with_lines(acc, ["100.00"])
    fresh = invoice_with_lines(acc, ["200.00"])
    with time_machine.travel(NOW - dt.timedelta(days=12), tick=False):
        disputes.dispute_open(invoice=late, category="overbilling", message="x", user=finance)
    with time_machine.travel(NOW - dt.timedelta(days=3), tick=False):
        disputes.dispute_open(invoice=fresh, category="other", message="y", user=finance)
    client = client_for(finance)
    with time_machine.travel(NOW, tick=False), django_assert_max_num_queries(12):
        response = client.get("/receivables/disputes/")
    html = response.content.decode()
    assert response.status_code == 200
    rows = html.split('<table id="dispute-list">')[1].split("</table>")[0]
    first, second = rows.split("<tr")[2:4]
    assert late.number in first and "12 d" in first and "10 d, past SLA" in first
    assert fresh.number in second and "3 d" in second and "20 d, 17 d left" in second
    assert '<div class="value" id="kpi-open">2</div>' in html
    assert "2 past SLA" not in html and "1 past SLA" in html


@pytest.mark.django_db
def test_finance_opens_credits_and_the_detail_shows_it(finance, client_for):
    inv = invoice_with_lines(AccountFactory(), ["600.00", "400.00"])
    line = inv.lines.get(position=2)
    client = client_for(finance)
    response = client.post(
        f"/receivables/invoices/{inv.pk}/dispute/",
        {"category": "overbilling", "message": "Line 2 doubled", "lines": [str(line.pk), "x"]},
    )
    dispute = Dispute.objects.get()
    assert response["Location"] == f"/receivables/disputes/{dispute.pk}/"
    assert list(dispute.lines.all()) == [line]
    response = client.post(
        f"/receivables/disputes/{dispute.pk}/credit/",
        {"amount": "400.00", "reason": "Doubled", "confirm": "1"},
    )
    dispute.refresh_from_db()
    assert dispute.status == "credited"
    page = client.get(f"/receivables/disputes/{dispute.pk}/").content.decode()
    assert f'<strong id="dispute-credit-note">{dispute.credit_note.number}</strong>' in page
    assert "Line 2 doubled" in page and "Consulting 2" in page


@pytest.mark.django_db
def test_bad_page_input_changes_nothing(finance, client_for):
    inv = invoice_with_lines(AccountFactory(), ["600.00"])
    client = client_for(finance)
    client.post(f"/receivables/invoices/{inv.pk}/dispute/", {"category": "bogus", "message": "x"})
    assert Dispute.objects.count() == 0
    dispute = disputes.dispute_open(invoice=inv, category="other", message="x", user=finance)
    response = client.post(f"/receivables/disputes/{dispute.pk}/credit/", {"amount": "-5"})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.credit_note) == ("open", None)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == [
        "Choose a category and write what the customer disputes.",
        "Enter an amount greater than zero and a reason.",
    ]


@pytest.mark.django_db
def test_api_four_eyes_credit(finance, billing_admin):
    inv = invoice_with_lines(AccountFactory(external_id="ACC-API"), ["1000.00"])
    created = api(finance).post(
        "/api/v1/disputes/",
        {"invoice": inv.pk, "category": "overbilling", "message": "Too much"},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["status"], body["account_id"], body["messages"][0]["body"]) == (
        "open",
        "ACC-API",
        "Too much",
    )
    url = f"/api/v1/disputes/{body['id']}/"
    proposed = api(finance).post(
        url + "credit/", {"amount": "750.00", "reason": "Outage"}, format="json"
    )
    assert proposed.json()["status"] == "pending_approval"
    own = api(finance)
    refused = own.post(url + "approve-credit/", {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "Four-eyes rule: the user who proposed this credit may not approve it."
    )
    approved = api(billing_admin).post(url + "approve-credit/", {}, format="json")
    assert approved.status_code == 200
    data = approved.json()
    assert (data["status"], data["credit_amount"], data["resolved_by"]) == (
        "credited",
        "750.00",
        "bella.admin",
    )
    assert data["credit_proposed_by"] == "fiona.finance"
    listed = own.get("/api/v1/disputes/", {"open": "false"}).json()
    assert [d["id"] for d in listed["results"]] == [body["id"]]
    assert Decimal(data["credit_amount"]) == Decimal("750.00")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["finance", "auditor"])
def test_aging_page_shows_the_dispute_kpis(role, request, finance, client_for):
    acc = AccountFactory(name="Acme KPI Ltd")
    late = invoice_with_lines(acc, ["100.00"])
    credited = invoice_with_lines(acc, ["300.00"])
    with time_machine.travel(NOW - dt.timedelta(days=12), tick=False):
        disputes.dispute_open(invoice=late, category="overbilling", message="x", user=finance)
        done = disputes.dispute_open(
            invoice=credited, category="overbilling", message="y", user=finance
        )
    with time_machine.travel(NOW - dt.timedelta(days=8), tick=False):
        disputes.dispute_credit(dispute=done, amount="40.00", reason="agreed", user=finance)
    with time_machine.travel(NOW, tick=False):
        response = client_for(request.getfixturevalue(role)).get("/receivables/aging/")
    html = response.content.decode()
    assert response.status_code == 200
    kpis = html.split('id="dispute-kpis"')[1].split("</section>")[0]
    assert '<div class="value" id="kpi-open">1</div>' in kpis and "1 past SLA" in kpis
    assert '<div class="value" id="kpi-median">4.00 days</div>' in kpis
    assert '<div class="value" id="kpi-within">100.00%</div>' in kpis
    assert "Overbilling: " in kpis and "40.00" in kpis and "(1)" in kpis
    assert 'id="kpi-disputes-link"' in html


@pytest.mark.django_db
def test_dispute_pages_pluralise_days_and_scroll_tables_on_a_phone(finance, client_for):
    acc = AccountFactory(name="Acme Phone Ltd")
    inv = invoice_with_lines(acc, ["100.00", "50.00"])
    line = inv.lines.get(position=1)
    other = invoice_with_lines(acc, ["80.00"])
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        dispute = disputes.dispute_open(
            invoice=inv, category="overbilling", message="x", user=finance, lines=[line]
        )
        resolved = disputes.dispute_open(
            invoice=other, category="overbilling", message="y", user=finance
        )
    with time_machine.travel(NOW, tick=False):
        disputes.dispute_credit(dispute=resolved, amount="10.00", reason="ok", user=finance)
        client = client_for(finance)
        detail = client.get(f"/receivables/disputes/{dispute.pk}/").content.decode()
        listing = client.get("/receivables/disputes/", {"q": inv.number}).content.decode()
    assert '<div class="value" id="dispute-age">1 day</div>' in detail
    assert ">SLA 10 days, 9 days left</div>" in detail
    assert '<div class="table-wrap"><table id="disputed-lines">' in detail
    assert '<div class="value" id="kpi-median">1.00 day</div>' in listing
    assert '<div class="table-wrap"><table id="dispute-list">' in listing
    assert '<div class="table-wrap"><table id="dispute-found">' in listing
    assert "1 days" not in detail + listing
