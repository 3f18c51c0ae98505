"""Customer list and page: balances, sections per role, statement for a date range."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import (
    AccountFactory,
    AgreementFactory,
    AllocationFactory,
    CreditNoteFactory,
    PaymentFactory,
)
from tests.screens.helpers import csv_download, final_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def acme():
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp", billing_email="ap@acme.example")
    AgreementFactory(account=acme, external_id="AGR-1", project_code="ACME")
    jan = final_invoice(account=acme, seq=1, total="1000.00", due_date=dt.date(2026, 3, 2))
    feb = final_invoice(
        account=acme,
        seq=2,
        total="500.00",
        invoice_date=dt.date(2026, 2, 28),
        due_date=dt.date(2026, 3, 30),
    )
    pay = PaymentFactory(
        account=acme, external_id="PAY-1", date=dt.date(2026, 2, 15), amount=Decimal("700.00")
    )
    AllocationFactory(payment=pay, invoice=jan, amount=Decimal("600.00"), date=dt.date(2026, 2, 15))
    CreditNoteFactory(
        invoice=feb,
        number="CN-2026-00001",
        number_seq=1,
        date=dt.date(2026, 3, 1),
        amount=Decimal("50.00"),
    )
    AccountFactory(external_id="ACC-2", name="Beta Ltd")
    return acme


def test_customer_list_shows_open_and_overdue(client_for, finance, acme):
    html = client_for(finance).get(reverse("records:customers")).content.decode()
    assert "2 customers" in html
    row = html.split("Acme Corp")[1].split("</tr>")[0]
    # open: 1000-600 + 500-50 = 850; overdue: INV 1 due 2026-03-02 with 400 open
    assert "USD 850.00" in row and "USD 400.00" in row
    only = client_for(finance).get(reverse("records:customers") + "?overdue=1").content.decode()
    assert "Acme Corp" in only and "Beta Ltd" not in only and "1 customer<" in only


def test_services_manager_sees_customers_without_money(client_for, services_manager, acme):
    html = client_for(services_manager).get(reverse("records:customers")).content.decode()
    assert "Acme Corp" in html and "USD 850.00" not in html
    page = (
        client_for(services_manager)
        .get(reverse("records:customer", args=[acme.pk]))
        .content.decode()
    )
    assert "AGR-1" in page and "INV-2026-00001" not in page and "PAY-1" not in page


def test_customer_page_sections_for_finance(client_for, finance, acme):
    html = client_for(finance).get(reverse("records:customer", args=[acme.pk])).content.decode()
    for text in (
        "ap@acme.example",
        "AGR-1",
        "INV-2026-00001",
        "INV-2026-00002",
        "CN-2026-00001",
        "PAY-1",
        "Unapplied cash",
        "USD 100.00",
        "Show statement",
        "badge-overdue",
    ):
        assert text in html, text


def test_statement_for_a_date_range_with_running_balance(client_for, auditor, acme):
    url = reverse("records:statement", args=[acme.pk])
    html = (
        client_for(auditor).get(url + "?date_from=2026-02-01&date_to=2026-03-15").content.decode()
    )
    # opening: invoice of 2026-01-31 (1000.00); then payment -700, invoice +500, credit note -50
    assert "USD 1,000.00" in html and "USD 750.00" in html
    rows = csv_download(
        client_for(auditor).get(url + "?date_from=2026-02-01&date_to=2026-03-15&format=csv")
    )
    assert rows == [
        ["currency", "date", "type", "reference", "debit", "credit", "balance"],
        ["USD", "2026-02-15", "Payment", "PAY-1", "", "700.00", "300.00"],
        ["USD", "2026-02-28", "Invoice", "INV-2026-00002", "500.00", "", "800.00"],
        [
            "USD",
            "2026-03-01",
            "Credit note",
            "CN-2026-00001 (INV-2026-00002)",
            "",
            "50.00",
            "750.00",
        ],
    ]
    empty = (
        client_for(auditor).get(url + "?date_from=2026-03-01&date_to=2026-02-01").content.decode()
    )
    assert "From is after To" in empty and "Opening balance" not in empty


def test_customer_list_query_count_is_flat(client_for, finance, django_assert_max_num_queries):
    for n in range(60):
        acc = AccountFactory()
        final_invoice(account=acc, seq=n + 1, total="10.00")
    client = client_for(finance)
    with django_assert_max_num_queries(10):  # 7 + OTP device, idle-session write
        response = client.get(reverse("records:customers"))
    assert response.content.decode().count('data-label="Customer"') == 50


def test_balances_equal_the_sum_of_each_invoice_open_amount(acme):
    """The grouped sums (totals less live allocations less credit notes) are the per-invoice
    open amounts summed, per account and currency: reversed allocations, a second currency,
    a paid invoice, a draft and a rejected invoice included."""
    from receivables.selectors import annotate_open_amount, final_invoices
    from records.customers import UNPAID, balances

    eur = final_invoice(account=acme, seq=3, total="300.00", currency="EUR")
    pay = PaymentFactory(account=acme, external_id="PAY-2", date=dt.date(2026, 3, 3))
    AllocationFactory(payment=pay, invoice=eur, amount=Decimal("120.00"))
    AllocationFactory(
        payment=pay,
        invoice=eur,
        amount=Decimal("80.00"),
        reversed_on=dt.date(2026, 3, 4),
        reversal_reason="bounced",
    )
    final_invoice(account=acme, seq=4, total="90.00", status="paid")
    final_invoice(account=acme, seq=5, total="70.00", status="rejected")
    today = dt.date(2026, 3, 15)
    expected: dict[tuple[int, str], list[Decimal]] = {}
    for inv in annotate_open_amount(final_invoices()):
        late = inv.due_date < today and inv.status in UNPAID
        pair = expected.setdefault((inv.account_id, inv.currency), [Decimal(0), Decimal(0)])
        pair[0] += inv.open_amount
        pair[1] += inv.open_amount if late else Decimal(0)
    got = {
        (account_id, b.currency): [b.open, b.overdue]
        for account_id, rows in balances(sorted({k[0] for k in expected})).items()
        for b in rows
    }
    assert got == {k: v for k, v in expected.items() if any(v)}
    assert got[(acme.pk, "EUR")] == [Decimal("180.00"), Decimal("180.00")]
