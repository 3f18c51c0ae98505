"""The time-entry browser: filters, keyset pages, flat query count."""

from __future__ import annotations

import datetime as dt

import pytest

from invoicing.models import EntryBilling
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    FlagFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    TimeEntryFactory,
)
from tests.screens.helpers import csv_download, queries_of
from timesheets.importing.rows import COLUMNS

pytestmark = pytest.mark.django_db
URL = "/time/entries/"


def _ids(html: str) -> list[str]:
    return [p.split("<")[0] for p in html.split('data-label="Entry">')[1:]]


@pytest.fixture
def entries():
    acme = AccountFactory(name="Acme Corp")
    agreement = AgreementFactory(account=acme, project_code="ACME")
    erin = EmployeeFactory(external_id="E1", name="Erin")
    made = {
        "a": TimeEntryFactory(
            external_id="1", project_code="ACME", employee=erin, date=dt.date(2026, 1, 5)
        ),
        "b": TimeEntryFactory(
            external_id="2", project_code="ACME", date=dt.date(2026, 1, 6), billable=False
        ),
        "c": TimeEntryFactory(
            external_id="3", project_code="OTHER", employee=erin, date=dt.date(2026, 1, 7)
        ),
    }
    FlagFactory(entry=made["c"], subject="3")
    invoice = InvoiceFactory(account=acme)
    line = InvoiceLineFactory(invoice=invoice, agreement=agreement)
    EntryBilling.objects.create(
        entry=made["a"],
        agreement=agreement,
        invoice=invoice,
        line=line,
        period=dt.date(2026, 1, 1),
        rounded_minutes=60,
        billed_minutes=60,
    )
    return made


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["3", "2", "1"]),
        ("employee=e1", ["3", "1"]),
        ("employee=erin&project=acme", ["1"]),
        ("customer=acme", ["2", "1"]),
        ("billable=no", ["2"]),
        ("invoiced=yes", ["1"]),
        ("invoiced=no", ["3", "2"]),
        ("flag=NO_AGREEMENT", ["3"]),
        ("flag=none", ["2", "1"]),
        ("date_from=2026-01-06&date_to=2026-01-06", ["2"]),
        ("date_from=2026-01-07&date_to=2026-01-05", []),
    ],
)
def test_filters(client_for, auditor, entries, query, expected):
    html = client_for(auditor).get(f"{URL}?{query}").content.decode()
    assert _ids(html) == expected


def test_keyset_pages_and_flat_query_count(
    client_for, services_manager, django_assert_max_num_queries
):
    employee = EmployeeFactory()
    for n in range(120):
        e = TimeEntryFactory(
            employee=employee,
            project_code="P",
            date=dt.date(2026, 1, 1) + dt.timedelta(days=n % 30),
        )
        if n % 3 == 0:
            FlagFactory(entry=e, subject=e.external_id)
    client = client_for(services_manager)
    seen: list[str] = []
    url = URL + "?project=P"
    for _ in range(3):
        with django_assert_max_num_queries(10):  # 8 + OTP device, idle-session write
            html = client.get(url).content.decode()
        seen += _ids(html)
        if 'id="next-page"' not in html:
            break
        url = URL + (
            html.split('id="next-page"')[0]
            .rsplit('href="', 1)[1]
            .split('"')[0]
            .replace("&amp;", "&")
        )
    assert len(seen) == 120 and len(set(seen)) == 120


def test_finance_may_not_browse_entries(client_for, finance):
    assert client_for(finance).get(URL).status_code == 403


def test_invoice_column_shows_invoice_prepaid_block_or_nothing(client_for, auditor, entries):
    agreement = entries["a"].billing.agreement
    EntryBilling.objects.create(
        entry=entries["b"],
        agreement=agreement,
        period=dt.date(2026, 1, 1),
        rounded_minutes=60,
        block_minutes=60,
        billed_minutes=0,
    )
    html = client_for(auditor).get(URL).content.decode()
    cells = [p.split("</td>")[0] for p in html.split('<td data-label="Invoice">')[1:]]
    assert cells[0] == "—"  # entry 3: not billed
    assert cells[1] == "prepaid block"  # entry 2: drawn from a prepaid block, on no invoice
    assert str(entries["a"].billing.invoice) in cells[2]  # entry 1: on its invoice


def _walk_pages(client, query: str) -> list[str]:
    """Entry IDs over every page of the browser, following "Older"."""
    seen: list[str] = []
    url = f"{URL}?{query}"
    while True:
        html = client.get(url).content.decode()
        seen += _ids(html)
        if 'id="next-page"' not in html:
            return seen
        href = html.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0]
        url = URL + href.replace("&amp;", "&")


def test_csv_is_the_filtered_set_with_formula_safe_cells(client_for, auditor, entries):
    TimeEntryFactory(
        external_id="4", project_code="ACME", date=dt.date(2026, 1, 8), notes="=cmd|' /C calc'!A0"
    )
    response = client_for(auditor).get(f"{URL}?customer=acme&format=csv")
    assert response["Content-Disposition"].startswith('attachment; filename="time-entries-')
    rows = csv_download(response)
    assert rows[0][:11] == list(COLUMNS) and rows[0][11:] == ["source", "invoice", "open_flags"]
    got = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["Entry ID"] for r in got] == ["4", "2", "1"]
    assert got[0]["Notes"] == "'=cmd|' /C calc'!A0"
    assert got[1]["Billable"] == "no" and got[1]["invoice"] == ""
    assert got[2]["Employee ID"] == "E1" and got[2]["Date"] == "2026-01-05"
    assert got[2]["invoice"] == str(entries["a"].billing.invoice) and got[2]["Hours"] == "1"
    flagged = csv_download(client_for(auditor).get(f"{URL}?flag=any&format=csv"))
    assert [(r[0], r[-1]) for r in flagged[1:]] == [("3", "NO_AGREEMENT")]
    empty = client_for(auditor).get(f"{URL}?date_from=2026-02-01&date_to=2026-01-01&format=csv")
    assert csv_download(empty) == [rows[0]]


def test_csv_walks_the_keyset_in_chunks_like_the_pages(client_for, services_manager, monkeypatch):
    """Chunks of 7 over 130 entries on 4 days (many share a date): the CSV has every entry once,
    in the order the pages show them."""
    from records import entries as browser

    monkeypatch.setattr(browser, "CSV_CHUNK", 7)
    employee = EmployeeFactory()
    for n in range(130):
        TimeEntryFactory(
            employee=employee, project_code="P", date=dt.date(2026, 1, 1 + n % 4), notes=str(n)
        )
    client = client_for(services_manager)
    rows = csv_download(client.get(f"{URL}?project=P&format=csv"))[1:]
    ids = [r[0] for r in rows]
    assert len(ids) == 130 and len(set(ids)) == 130
    assert ids == _walk_pages(client, "project=P")


@pytest.mark.parametrize("query", ["format=csv", "format=csv&project=P&billable=yes&flag=none"])
def test_csv_queries_are_the_same_for_n_and_3n_entries(client_for, billing_admin, query):
    employee = EmployeeFactory()

    def made(n: int) -> None:
        for _ in range(n):
            e = TimeEntryFactory(employee=employee, project_code="P", date=dt.date(2026, 1, 2))
            if int(e.external_id) % 4 == 0:
                FlagFactory(entry=e, subject=e.external_id, status="resolved")

    client = client_for(billing_admin)
    made(30)
    few = queries_of(client, f"{URL}?{query}")
    made(60)
    assert queries_of(client, f"{URL}?{query}") == few
    assert len(csv_download(client.get(f"{URL}?{query}"))) == 1 + 90


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("billing_admin", True), ("services_manager", True), ("auditor", True), ("finance", False)],
)
def test_csv_for_the_roles_that_browse_entries(request, client_for, entries, role, allowed):
    response = client_for(request.getfixturevalue(role)).get(f"{URL}?format=csv")
    if allowed:
        assert [r[0] for r in csv_download(response)[1:]] == ["3", "2", "1"]
    else:
        assert response.status_code == 403
