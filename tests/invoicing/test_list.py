"""The invoice list across periods: filters, sorting, totals, CSV, bulk send with confirmation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from invoicing.models import Invoice
from tests.factories import AccountFactory, AllocationFactory, InvoiceFactory, PaymentFactory
from tests.screens.helpers import csv_download, final_invoice, queries_of

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]
URL = "/invoices/all/"


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def invoices():
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp")
    zeta = AccountFactory(external_id="ACC-2", name="Zeta GmbH")
    paid = final_invoice(account=acme, seq=1, total="1000.00", due_date=dt.date(2026, 1, 10))
    AllocationFactory(
        payment=PaymentFactory(account=acme, amount=Decimal("1000.00")),
        invoice=paid,
        amount=Decimal("1000.00"),
    )
    Invoice.objects.filter(pk=paid.pk).update(status="paid")
    overdue = final_invoice(account=acme, seq=2, total="9451.48", due_date=dt.date(2026, 2, 1))
    disputed = final_invoice(
        account=zeta,
        seq=3,
        total="200.00",
        currency="EUR",
        disputed=True,
        invoice_date=dt.date(2026, 2, 28),
        due_date=dt.date(2026, 3, 30),
    )
    draft = InvoiceFactory(
        account=zeta,
        total=Decimal("50.00"),
        net=Decimal("50.00"),
        period=dt.date(2026, 3, 1),
        invoice_date=dt.date(2026, 3, 31),
    )
    return {"paid": paid, "overdue": overdue, "disputed": disputed, "draft": draft}


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [
        part.split("</a>")[0].rsplit(">", 1)[1] for part in body.split('data-label="Invoice">')[1:]
    ]


@time_machine.travel(dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC), tick=False)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Draft #{draft}", "INV-2026-00003", "INV-2026-00002", "INV-2026-00001"]),
        ("status=overdue", ["INV-2026-00002"]),
        ("status=paid", ["INV-2026-00001"]),
        ("status=disputed", ["INV-2026-00003"]),
        ("status=draft", ["Draft #{draft}"]),
        ("customer=zeta&sort=number", ["INV-2026-00003", "Draft #{draft}"]),
        ("q=00002", ["INV-2026-00002"]),
        ("amount_min=200&amount_max=1000&sort=-total", ["INV-2026-00001", "INV-2026-00003"]),
        ("date_from=2026-02-01&date_to=2026-02-28", ["INV-2026-00003"]),
        ("date_from=2026-03-01&date_to=2026-02-01", []),
        ("sort=-open", ["INV-2026-00002", "INV-2026-00003", "Draft #{draft}", "INV-2026-00001"]),
    ],
)
def test_filters_and_sorting(client_for, auditor, invoices, query, expected):
    html = client_for(auditor).get(f"{URL}?{query}").content.decode()
    assert _rows(html) == [e.format(draft=invoices["draft"].pk) for e in expected]
    if "date_from=2026-03-01" in query:
        assert "no invoice can match" in html and "0 invoices" in html


@time_machine.travel(dt.datetime(2026, 2, 20, 12, tzinfo=dt.UTC), tick=False)
def test_totals_of_the_filtered_set_per_currency(client_for, finance, invoices):
    html = client_for(finance).get(URL).content.decode()
    assert "<strong>4 invoices</strong>" in html
    assert "3 in USD: total USD 10,501.48, open USD 9,501.48" in html
    assert "1 in EUR: total EUR 200.00, open EUR 200.00" in html
    html = client_for(finance).get(f"{URL}?status=overdue").content.decode()
    assert "<strong>1 invoice</strong>" in html and "total USD 9,451.48, open USD 9,451.48" in html
    assert "badge-overdue" in html


def test_csv_export_of_the_filtered_set_is_formula_safe(client_for, billing_admin, invoices):
    AccountFactory(external_id="ACC-3", name="=HYPERLINK(1)")
    acc = AccountFactory(external_id="ACC-3")
    final_invoice(account=acc, seq=9, total="10.00")
    response = client_for(billing_admin).get(f"{URL}?customer=ACC-3&format=csv")
    assert response["Content-Disposition"].startswith('attachment; filename="invoices-')
    rows = csv_download(response)
    assert rows[0][:4] == ["id", "number", "status", "disputed"]
    assert len(rows) == 2
    assert rows[1][1:7] == ["INV-2026-00009", "approved", "no", "ACC-3", "'=HYPERLINK(1)", "USD"]
    assert rows[1][13:15] == ["10.00", "10.00"]


def test_list_query_count_is_flat(client_for, auditor, django_assert_max_num_queries):
    acc = AccountFactory()
    for seq in range(1, 81):
        final_invoice(account=AccountFactory() if seq % 2 else acc, seq=seq, total="100.00")
    client = client_for(auditor)
    with django_assert_max_num_queries(10):
        response = client.get(f"{URL}?sort=customer")
    assert response.content.decode().count('data-label="Invoice"') == 50


def _list_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("query", ["", "?sort=customer", "?status=overdue&sort=-open", "?q=INV"])
def test_list_query_count_is_the_same_for_n_and_3n_invoices(client_for, billing_admin, query):
    def invoices(first: int, n: int) -> None:
        for seq in range(first, first + n):
            invoice = final_invoice(
                account=AccountFactory(), seq=seq, total="100.00", due_date=dt.date(2026, 1, 1)
            )
            AllocationFactory(
                payment=PaymentFactory(account=invoice.account, amount=Decimal("40.00")),
                invoice=invoice,
                amount=Decimal("40.00"),
            )

    client = client_for(billing_admin)
    invoices(1, 20)
    few = _list_queries(client, f"{URL}{query}")
    invoices(21, 40)
    many = _list_queries(client, f"{URL}{query}")
    assert few == many
    html = client.get(f"{URL}{query}").content.decode()
    assert "<strong>60 invoices</strong>" in html and "open USD 3,600.00" in html


@pytest.mark.parametrize("query", ["", "&sort=-total", "&status=overdue&sort=customer"])
def test_csv_query_count_is_the_same_for_n_and_3n_invoices(client_for, auditor, query):
    """The CSV of the filtered set is streamed from one server-side cursor: N and 3N invoices
    cost the same queries, and every matching invoice is a row, in the list's order."""

    def invoices(first: int, n: int) -> None:
        for seq in range(first, first + n):
            final_invoice(
                account=AccountFactory(),
                seq=seq,
                total=f"{seq}.00",
                due_date=dt.date(2026, 1, 1),
            )

    client = client_for(auditor)
    url = f"{URL}?format=csv{query}"
    invoices(1, 20)
    few = queries_of(client, url)
    invoices(21, 40)
    assert queries_of(client, url) == few
    rows = csv_download(client.get(url))[1:]
    assert len(rows) == 60
    if "sort=-total" in query:
        assert [r[13] for r in rows] == [f"{n}.00" for n in range(60, 0, -1)]


def test_bulk_send_all_matching_asks_first_then_sends(
    client_for, billing_admin, invoices, django_capture_on_commit_callbacks
):
    client = client_for(billing_admin)
    confirm = client.get(reverse("invoicing:bulk_send") + "?all=1&customer=acme")
    html = confirm.content.decode()
    assert "Send 2 invoices?" in html and "USD 10,451.48" in html
    assert len(mail.outbox) == 0
    stale = client.post(
        reverse("invoicing:bulk_send") + "?all=1&customer=acme",
        {"all": "1", "customer": "acme", "confirm_count": "3"},
    )
    assert stale.status_code == 302 and len(mail.outbox) == 0
    assert not Invoice.objects.filter(sent_at__isnull=False).exists()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            reverse("invoicing:bulk_send"),
            {"all": "1", "customer": "acme", "confirm_count": "2"},
            follow=True,
        )
    assert "2 invoices sent." in done.content.decode()
    assert sorted(m.subject for m in mail.outbox) == [
        "Invoice INV-2026-00001 from " + mail.outbox[0].subject.split(" from ")[1],
        "Invoice INV-2026-00002 from " + mail.outbox[0].subject.split(" from ")[1],
    ]
    assert Invoice.objects.get(pk=invoices["overdue"].pk).status == "sent"


def test_bulk_send_skips_drafts_and_is_refused_to_other_roles(
    client_for, billing_admin, finance, invoices
):
    ids = {"ids": [invoices["draft"].pk]}
    html = client_for(billing_admin).get(reverse("invoicing:bulk_send"), ids).content.decode()
    assert "None of the selected invoices is approved" in html
    assert (
        client_for(finance)
        .post(reverse("invoicing:bulk_send"), {**ids, "confirm_count": "1"})
        .status_code
        == 403
    )
    assert len(mail.outbox) == 0
