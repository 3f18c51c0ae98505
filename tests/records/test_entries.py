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
