"""The agreements list: filters (customer, type, status, running dates), sorting, CSV of the
filtered set, roles, flat query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from agreements.exports import EXPORT_COLUMNS
from agreements.models import Agreement
from tests.factories import AccountFactory, AgreementFactory, MilestoneFactory, RoleRateFactory
from tests.screens.helpers import csv_download, queries_of

pytestmark = pytest.mark.django_db
URL = "/agreements/"
T = Agreement.Type
S = Agreement.Stage


@pytest.fixture(autouse=True)
def frozen_day(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture
def agreements():
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp")
    zeta = AccountFactory(external_id="ACC-2", name="Zeta GmbH")

    def make(n, account, kind, stage, start, end=None, **fields):
        return AgreementFactory(
            external_id=f"AGR-{n}",
            account=account,
            project_code=f"P{n}",
            agreement_type=kind,
            stage=stage,
            start_date=start,
            end_date=end,
            **fields,
        )

    make(1, acme, T.TIME_AND_MATERIALS, S.SIGNED, dt.date(2026, 1, 1))  # active
    make(
        2,
        acme,
        T.FIXED_FEE,
        S.SIGNED,
        dt.date(2025, 1, 1),
        dt.date(2025, 12, 31),
        amount=Decimal("9000.00"),
    )  # ended
    make(
        3, zeta, T.PREPAID_HOURS, S.SIGNED, dt.date(2026, 6, 1), hours_sold=Decimal("100")
    )  # upcoming
    make(4, zeta, T.TIME_AND_MATERIALS, S.DRAFT, dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    make(5, zeta, T.TIME_AND_MATERIALS, S.CANCELLED, dt.date(2026, 1, 1), name="=HYPERLINK(1)")


def _ids(html: str) -> list[str]:
    return [p.split("</a>")[0].rsplit(">", 1)[1] for p in html.split('data-label="Agreement">')[1:]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [1, 2, 3, 4, 5]),
        ("customer=acme", [1, 2]),
        ("customer=ACC-2", [3, 4, 5]),
        ("q=P3", [3]),
        ("type=fixed_fee", [2]),
        ("type=time_and_materials&customer=zeta", [4, 5]),
        ("status=active", [1]),
        ("status=ended", [2]),
        ("status=upcoming", [3]),
        ("status=draft", [4]),
        ("status=cancelled", [5]),
        ("date_from=2026-02-10&date_to=2026-02-20", [1, 4, 5]),
        ("date_from=2025-06-01&date_to=2025-06-30", [2]),
        ("date_from=2026-07-01", [1, 3, 5]),
        ("date_from=2026-03-01&date_to=2026-02-01", []),
        ("sort=-agreement", [5, 4, 3, 2, 1]),
        # equal start dates (1 and 5) break on the Agreement ID, reversed with the sort
        ("sort=-start", [3, 4, 5, 1, 2]),
        ("sort=start", [2, 1, 5, 4, 3]),
        # open-ended agreements end after every dated one
        ("sort=end", [2, 4, 1, 3, 5]),
        ("sort=-end", [5, 3, 1, 4, 2]),
        ("sort=-customer", [5, 4, 3, 2, 1]),
        ("sort=type&customer=zeta", [3, 4, 5]),
        ("sort=stage", [5, 4, 1, 2, 3]),
        ("sort=nonsense", [1, 2, 3, 4, 5]),
    ],
)
def test_filters_and_sorting(client_for, auditor, agreements, query, expected):
    html = client_for(auditor).get(f"{URL}?{query}").content.decode()
    assert _ids(html) == [f"AGR-{n}" for n in expected]
    if "date_to=2026-02-01" in query:
        assert 'id="empty-range"' in html and "0 agreements" in html


def test_csv_is_the_filtered_set_in_the_import_columns(client_for, billing_admin, agreements):
    response = client_for(billing_admin).get(f"{URL}?customer=ACC-2&sort=-start&format=csv")
    assert response["Content-Disposition"].startswith('attachment; filename="agreements-')
    rows = csv_download(response)
    assert rows[0] == list(EXPORT_COLUMNS)
    got = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert [r["Agreement ID"] for r in got] == ["AGR-3", "AGR-4", "AGR-5"]
    assert got[0]["Agreement Type"] == "Prepaid Hours" and got[0]["Hours Sold"] == "100.00"
    assert got[1]["Stage"] == "Draft" and got[1]["End Date"] == "2026-02-28"
    assert got[2]["Agreement Name"] == "'=HYPERLINK(1)"  # no live formula
    empty = csv_download(
        client_for(billing_admin).get(f"{URL}?status=active&type=fixed_fee&format=csv")
    )
    assert empty == [list(EXPORT_COLUMNS)]


@pytest.mark.parametrize("role", ["billing_admin", "finance", "auditor", "services_manager"])
def test_every_role_sees_the_list_and_its_csv(request, client_for, agreements, role):
    client = client_for(request.getfixturevalue(role))
    assert _ids(client.get(f"{URL}?status=active").content.decode()) == ["AGR-1"]
    rows = csv_download(client.get(f"{URL}?status=active&format=csv"))
    assert [r[0] for r in rows[1:]] == ["AGR-1"]


def test_outsider_is_refused(client_for, outsider, agreements):
    assert client_for(outsider).get(f"{URL}?format=csv").status_code == 403


@pytest.mark.parametrize(
    "query",
    ["", "?sort=-customer", "?status=active&sort=end", "?format=csv", "?format=csv&sort=-start"],
)
def test_list_and_csv_queries_are_the_same_for_n_and_3n(client_for, finance, query):
    def made(n: int) -> None:
        for _ in range(n):
            agreement = AgreementFactory(parent=AgreementFactory())
            RoleRateFactory(agreement=agreement)
            MilestoneFactory(agreement=agreement)

    client = client_for(finance)
    made(10)
    few = queries_of(client, URL + query)
    made(20)
    assert queries_of(client, URL + query) == few
    if "csv" in query:
        assert len(csv_download(client.get(URL + query))) == 1 + 60
