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
from tests.screens.helpers import csv_download, final_invoice, queries_of

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


def _names(html: str) -> list[str]:
    return [p.split("</a>")[0].rsplit(">", 1)[1] for p in html.split('data-label="Customer">')[1:]]


@pytest.fixture
def ranked(acme):
    """Acme: open 850, overdue 400. Gamma: open 2,000, nothing overdue. Beta: nothing owed.
    Two "Same Co" accounts tie on every sort but the id; Delta has only a draft."""
    gamma = AccountFactory(external_id="ACC-3", name="Gamma AG")
    final_invoice(account=gamma, seq=3, total="2000.00", due_date=dt.date(2026, 4, 30))
    first = AccountFactory(external_id="ACC-9", name="Same Co")
    second = AccountFactory(external_id="ACC-8", name="Same Co")
    return {"acme": acme, "gamma": gamma, "same": [first, second]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Acme Corp", "Beta Ltd", "Gamma AG", "Same Co", "Same Co"]),
        ("sort=-name", ["Same Co", "Same Co", "Gamma AG", "Beta Ltd", "Acme Corp"]),
        # descending flips the tie-breakers too (name, then id): still one fixed order
        ("sort=-open", ["Gamma AG", "Acme Corp", "Same Co", "Same Co", "Beta Ltd"]),
        ("sort=open", ["Beta Ltd", "Same Co", "Same Co", "Acme Corp", "Gamma AG"]),
        ("sort=-overdue", ["Acme Corp", "Same Co", "Same Co", "Gamma AG", "Beta Ltd"]),
        ("sort=-open&overdue=1", ["Acme Corp"]),
        ("sort=-open&q=Co", ["Acme Corp", "Same Co", "Same Co"]),
        ("sort=email", ["Beta Ltd", "Gamma AG", "Same Co", "Same Co", "Acme Corp"]),
        ("sort=bogus", ["Acme Corp", "Beta Ltd", "Gamma AG", "Same Co", "Same Co"]),
    ],
)
def test_customer_list_sorts(client_for, finance, ranked, query, expected):
    html = client_for(finance).get(reverse("records:customers") + f"?{query}").content.decode()
    assert _names(html) == expected


def test_sort_ties_break_on_the_id(client_for, finance, ranked):
    """The two "Same Co" accounts (nothing owed) tie on name and amounts: the Account ID (unique;
    then the id) decides, first ascending and last descending, so pages never repeat a row."""
    first, second = ranked["same"]  # ACC-9, then ACC-8
    for query in ("sort=name", "sort=-name", "sort=-open", "sort=open", "sort=overdue"):
        html = client_for(finance).get(reverse("records:customers") + f"?{query}").content.decode()
        order = [p.split('"')[0] for p in html.split('href="/customers/')[1:]]
        same = [pk for pk in order if pk.rstrip("/") in {str(first.pk), str(second.pk)}]
        ids = [f"{second.pk}/", f"{first.pk}/"]
        assert same == (ids[::-1] if "-" in query else ids), query


def test_customer_csv_is_the_filtered_set_in_the_lists_order(client_for, finance, ranked):
    AccountFactory(external_id="ACC-X", name="=HYPERLINK(1)", billing_email="x@x.example")
    url = reverse("records:customers")
    rows = csv_download(client_for(finance).get(url + "?sort=-open&format=csv"))
    assert rows[0] == ["account_id", "name", "billing_email", "currency", "open", "overdue"]
    assert rows[1:3] == [
        ["ACC-3", "Gamma AG", "ap@acc-3.example", "USD", "2000.00", "0.00"],
        ["ACC-1", "Acme Corp", "ap@acme.example", "USD", "850.00", "400.00"],
    ]
    assert ["ACC-X", "'=HYPERLINK(1)", "x@x.example", "", "0.00", "0.00"] in rows
    # the same accounts in the same order as the page shows them
    html = client_for(finance).get(url + "?sort=-open").content.decode()
    assert [r[1].lstrip("'") for r in rows[1:]] == [n.replace("&#x27;", "'") for n in _names(html)]
    assert len(rows) == 1 + 6
    only = csv_download(client_for(finance).get(url + "?overdue=1&q=acme&format=csv"))
    assert only[1:] == [["ACC-1", "Acme Corp", "ap@acme.example", "USD", "850.00", "400.00"]]
    # a second currency: one row per currency the customer owes in
    final_invoice(account=ranked["acme"], seq=7, total="300.00", currency="EUR")
    both = csv_download(client_for(finance).get(url + "?q=ACC-1&format=csv"))
    assert [r[3:] for r in both[1:]] == [["EUR", "300.00", "300.00"], ["USD", "850.00", "400.00"]]


@pytest.mark.parametrize("role", ["billing_admin", "finance", "auditor", "services_manager"])
def test_every_role_that_sees_customers_gets_the_csv_money_only_with_invoices(
    request, client_for, ranked, role
):
    user = request.getfixturevalue(role)
    url = reverse("records:customers")
    rows = csv_download(client_for(user).get(url + "?sort=-open&overdue=1&format=csv"))
    if role == "services_manager":
        # no money: no amounts, no money sort, no overdue filter (it would tell who owes)
        assert rows[0] == ["account_id", "name", "billing_email"]
        assert [r[1] for r in rows[1:]] == ["Acme Corp", "Beta Ltd", "Gamma AG", "Same Co"] + [
            "Same Co"
        ]
    else:
        assert rows[0][-3:] == ["currency", "open", "overdue"] and len(rows) == 2


def test_customer_list_outsider_is_refused(client_for, outsider):
    assert client_for(outsider).get(reverse("records:customers") + "?format=csv").status_code == 403


@pytest.mark.parametrize(
    "query", ["", "?sort=-open", "?sort=overdue&overdue=1", "?format=csv", "?format=csv&sort=-open"]
)
def test_customer_list_and_csv_queries_are_the_same_for_n_and_3n(client_for, finance, query):
    def customers(first: int, n: int) -> None:
        for seq in range(first, first + n):
            acc = AccountFactory()
            inv = final_invoice(account=acc, seq=seq, total="100.00", due_date=dt.date(2026, 3, 1))
            AllocationFactory(
                payment=PaymentFactory(account=acc, amount=Decimal("40.00")),
                invoice=inv,
                amount=Decimal("40.00"),
            )

    client = client_for(finance)
    url = reverse("records:customers") + query
    customers(1, 20)
    few = queries_of(client, url)
    customers(21, 40)
    assert queries_of(client, url) == few
    if "csv" in query:
        rows = csv_download(client.get(url))[1:]
        assert len(rows) == 60 and {r[4] for r in rows} == {"60.00"}
