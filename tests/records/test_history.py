"""The history view: field-by-field changes, per-role kinds, filters, pages, flat queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from agreements import services
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    MilestoneFactory,
    TimeEntryFactory,
)
from tests.screens.helpers import csv_download, queries_of

pytestmark = pytest.mark.django_db
URL = "/history/"


@pytest.fixture
def changed(billing_admin):
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp")
    agreement = AgreementFactory(account=acme, external_id="AGR-1", hourly_rate=Decimal("150.00"))
    agreement.hourly_rate = Decimal("175.00")
    agreement._history_user = billing_admin
    agreement.save()
    ms = MilestoneFactory(
        agreement__account=acme, agreement__external_id="AGR-FF", due_date=None, name="Go-live"
    )
    services.milestone_complete(milestone=ms, user=billing_admin, completed_on=dt.date(2026, 1, 20))
    TimeEntryFactory(external_id="555", employee=EmployeeFactory(external_id="E9"))
    return agreement


def test_auditor_sees_who_changed_what_field_by_field(client_for, auditor, changed):
    html = client_for(auditor).get(URL + "?kind=agreement&object=AGR-1").content.decode()
    assert "bella.admin" in html and "Changed" in html
    assert "<strong>hourly rate</strong>: <del>USD 150.00</del> → USD 175.00" in html
    assert html.count('class="event"') == 2  # created, then changed
    ms = client_for(auditor).get(URL + "?kind=milestone&user=bella").content.decode()
    assert (
        "marked complete" in ms and "<strong>completed on</strong>: <del>—</del> → 2026-01-20" in ms
    )


def test_each_role_sees_only_what_it_may_read(client_for, finance, services_manager, changed):
    fin = client_for(finance).get(URL).content.decode()
    assert 'data-kind="agreement"' in fin and 'data-kind="entry"' not in fin
    assert client_for(finance).get(URL + "?kind=entry").content.decode().count('class="event"') == 0
    sm = client_for(services_manager).get(URL).content.decode()
    assert 'data-kind="entry"' in sm


def test_account_filter_and_customer_page_history(client_for, auditor, changed):
    acc = changed.account
    html = client_for(auditor).get(URL + f"?account={acc.pk}").content.decode()
    assert "History of Acme Corp" in html and 'data-kind="entry"' not in html
    assert 'data-kind="milestone"' in html and 'data-kind="agreement"' in html
    page = client_for(auditor).get(reverse("records:customer", args=[acc.pk])).content.decode()
    assert "History of changes" in page and "hourly rate" in page


def test_date_filter_and_empty_range(client_for, auditor, changed):
    assert (
        client_for(auditor)
        .get(URL + "?date_from=2099-01-01")
        .content.decode()
        .count('class="event"')
        == 0
    )
    html = (
        client_for(auditor).get(URL + "?date_from=2026-02-01&date_to=2026-01-01").content.decode()
    )
    assert "From is after To" in html and 'class="event"' not in html


def test_pages_cover_every_event_once_with_flat_queries(
    client_for, auditor, django_assert_max_num_queries
):
    AgreementFactory.create_batch(70)  # also 70 accounts: 140 events
    client = client_for(auditor)
    seen, url = [], URL
    for _ in range(4):
        with django_assert_max_num_queries(30):
            html = client.get(url).content.decode()
        seen += [part.split("</tr>")[0] for part in html.split('class="event"')[1:]]
        if 'id="next-page"' not in html:
            break
        url = URL + html.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace(
            "&amp;", "&"
        )
    assert len(seen) == 140 and len(set(seen)) == 140


def _history_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("query", ["", "?user=bella", "?date_from=2020-01-01&kind=entry"])
def test_history_query_count_does_not_grow_with_rows(client_for, auditor, billing_admin, query):
    """The same number of queries with N and 3N changes in every table the auditor reads."""

    def changes(n: int) -> None:
        for _ in range(n):
            agreement = AgreementFactory()
            agreement.hourly_rate = Decimal("1.00")
            agreement._history_user = billing_admin
            agreement.save()
            TimeEntryFactory()

    client = client_for(auditor)
    changes(20)
    few = _history_queries(client, URL + query)
    changes(40)
    many = _history_queries(client, URL + query)
    assert few == many
    html = client.get(URL + query).content.decode()
    assert html.count('class="event"') == 50 and 'id="next-page"' in html


def test_date_filter_is_a_local_day(client_for, auditor, settings):
    """`date_to` includes the whole local day (the range on history_date, not a cast)."""
    import time_machine

    settings.TIME_ZONE = "Europe/Berlin"
    with time_machine.travel(dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC), tick=False):
        AccountFactory(external_id="ACC-LATE")  # 00:30 on 10 March in Berlin
    client = client_for(auditor)
    day = client.get(URL + "?kind=account&date_from=2026-03-10&date_to=2026-03-10").content
    assert b"ACC-LATE" in day
    before = client.get(URL + "?kind=account&date_to=2026-03-09").content
    assert b"ACC-LATE" not in before


def test_portal_actions_are_in_the_history_with_the_contact_as_actor(
    client_for, auditor, billing_admin, services_manager, settings, tmp_path, approved_mail
):
    """What a customer contact does in the portal (notice, dispute, file, sign-in, download) is
    read in the History like any change, field by field, with the contact as actor."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from portal import services as portal
    from portal.models import PortalEvent
    from receivables.models import Dispute, DisputeAttachment
    from tests.world import invoice_with_lines, portal_client

    settings.MEDIA_ROOT = str(tmp_path)
    acme = AccountFactory(external_id="ACC-P", name="Acme Portal")
    invoice = invoice_with_lines(acme, ["1000.00"])
    contact = portal.contact_invite(account=acme, email="Jane@Acme.example", user=billing_admin)
    portal.event_record(contact=contact, action="signed_in")
    client = portal_client(contact)
    client.post(
        reverse("portal:notice_new", args=[invoice.pk]),
        {"date": "2026-03-01", "amount": "250.00", "reference": "Wire 77"},
    )
    client.post(
        reverse("portal:dispute_new", args=[invoice.pk]),
        {
            "category": "other",
            "message": "Hours doubled",
            "files": [SimpleUploadedFile("hours.csv", b"date,hours\n")],
        },
    )
    attachment = DisputeAttachment.objects.get()
    download = client.get(reverse("portal:attachment", args=[attachment.pk]))
    assert download.status_code == 200
    dispute = Dispute.objects.get()
    assert list(PortalEvent.objects.values_list("action", "detail")) == [
        ("download", f"dispute #{dispute.pk} file hours.csv"),
        ("dispute_opened", f"#{dispute.pk} {invoice.number}"),
        ("payment_notice", f"USD 250.00 on 2026-03-01 for {invoice.number}"),
        ("signed_in", ""),
    ]

    actor = "jane@acme.example (customer contact)"
    html = client_for(auditor).get(URL + f"?account={acme.pk}").content.decode()
    parts = [part.split("</tr>")[0] for part in html.split('class="event" data-kind="')[1:]]
    rows = {part.split('"', 1)[0]: part for part in parts}  # the oldest row of each kind
    kinds = [part.split('"', 1)[0] for part in parts]
    for kind in ("payment_notice", "dispute", "dispute_message", "dispute_file", "portal_event"):
        assert actor in rows[kind], kind
    assert "<strong>reference</strong>: Wire 77" in rows["payment_notice"]
    assert "<strong>amount</strong>: USD 250.00" in rows["payment_notice"]
    assert "<strong>opened by customer</strong>: jane@acme.example" in rows["dispute"]
    assert f'href="/receivables/disputes/{dispute.pk}/"' in rows["dispute"]
    assert "<strong>body</strong>: Hours doubled" in rows["dispute_message"]
    assert "<strong>original name</strong>: hours.csv" in rows["dispute_file"]
    assert kinds.count("portal_event") == 4  # signed in, notice, dispute opened, download
    assert f"<strong>detail</strong>: dispute #{dispute.pk} file hours.csv" in html
    # The invitation is the billing admin's, on the contact's own record.
    assert "bella.admin" in rows["contact"] and "jane@acme.example" in rows["contact"]
    only_events = client_for(auditor).get(URL + "?kind=portal_event").content.decode()
    assert only_events.count('class="event"') == 4 and actor in only_events
    # A role without the disputes, payments and contacts read rights sees none of it.
    sm = client_for(services_manager).get(URL + f"?account={acme.pk}").content.decode()
    assert "customer contact" not in sm and 'data-kind="dispute' not in sm


def test_csv_has_a_row_per_changed_field_of_the_filtered_events(client_for, auditor, changed):
    response = client_for(auditor).get(URL + "?kind=agreement&object=AGR-1&format=csv")
    assert response["Content-Disposition"].startswith('attachment; filename="history-')
    rows = csv_download(response)
    assert rows[0] == [
        "when", "record_type", "record", "record_id", "action", "user", "reason", "field", "old",
        "new",
    ]  # fmt: skip
    changed_rows = [r for r in rows[1:] if r[4] == "Changed"]
    assert [r[1:6] + r[7:] for r in changed_rows] == [
        ["Agreement", "AGR-1", str(changed.pk), "Changed", "bella.admin", "hourly rate"]
        + ["USD 150.00", "USD 175.00"]
    ]
    created = [r for r in rows[1:] if r[4] == "Created"]
    assert created and {r[2] for r in created} == {"AGR-1"}
    assert ["hourly rate", "", "USD 150.00"] in [r[7:] for r in created]
    # newest first, like the page
    assert rows.index(changed_rows[0]) < rows.index(created[0])


def test_csv_is_the_same_set_of_events_as_the_pages(client_for, auditor, monkeypatch):
    """Chunks of 7 over 139 events: each event once (its first field row), in the pages' order;
    a field value that looks like a formula is neutralised."""
    from records import history

    monkeypatch.setattr(history, "CSV_CHUNK", 7)
    AgreementFactory.create_batch(69)
    AccountFactory(name="=HYPERLINK(1)")
    client = client_for(auditor)
    rows = csv_download(client.get(URL + "?format=csv"))[1:]
    events = list(dict.fromkeys((r[0], r[1], r[3], r[4]) for r in rows))
    assert len(events) == 139  # 69 accounts and their agreements, one more account
    assert ["Account Name", "", "'=HYPERLINK(1)"] in [r[7:] for r in rows]
    labels, url = [], URL
    while True:
        html = client.get(url).content.decode()
        labels += [p.split('data-kind="')[1].split('"')[0] for p in html.split('class="event"')[1:]]
        if 'id="next-page"' not in html:
            break
        url = URL + html.split('id="next-page"')[0].rsplit('href="', 1)[1].split('"')[0].replace(
            "&amp;", "&"
        )
    kinds = {"Customer": "account", "Agreement": "agreement"}
    assert [kinds[e[1]] for e in events] == labels


def test_csv_holds_only_what_the_role_may_read(client_for, finance, services_manager, changed):
    fin = {r[1] for r in csv_download(client_for(finance).get(URL + "?format=csv"))[1:]}
    assert "Agreement" in fin and "Time entry" not in fin
    sm = {r[1] for r in csv_download(client_for(services_manager).get(URL + "?format=csv"))[1:]}
    assert "Time entry" in sm
    empty = client_for(finance).get(URL + "?date_from=2026-02-01&date_to=2026-01-01&format=csv")
    assert len(csv_download(empty)) == 1


@pytest.mark.parametrize("query", ["?format=csv", "?format=csv&user=bella&kind=agreement"])
def test_history_csv_queries_are_the_same_for_n_and_3n(client_for, auditor, billing_admin, query):
    def changes(n: int) -> None:
        for _ in range(n):
            agreement = AgreementFactory()
            agreement.hourly_rate = Decimal("1.00")
            agreement._history_user = billing_admin
            agreement.save()
            TimeEntryFactory()

    client = client_for(auditor)
    changes(10)
    few = queries_of(client, URL + query)
    changes(20)
    assert queries_of(client, URL + query) == few
