"""The exception dashboard: filters, sorting, actions, run now, backlog, KPIs, permissions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from agreements.models import Agreement
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    FlagFactory,
    InvoiceFactory,
    RoleRateFactory,
    TimeEntryFactory,
)
from timesheets import services
from timesheets.models import Flag, ReconciliationRun
from timesheets.selectors import kpis, working_days

pytestmark = pytest.mark.django_db
DASH = reverse("timesheets:dashboard")
H = 3_600_000


def rows(response) -> list[str]:
    return [f.subject for f in response.context["page"].object_list]


@pytest.fixture
def flagged():
    acme = AccountFactory(external_id="ACC-1", name="Acme Corp")
    other = AccountFactory(external_id="ACC-2", name="Globex")
    a1 = AgreementFactory(external_id="AGR-1", account=acme, project_code="P1")
    a2 = AgreementFactory(external_id="AGR-2", account=other, project_code="P2")
    ann = EmployeeFactory(external_id="E1", name="Ann")
    bob = EmployeeFactory(external_id="E2", name="Bob")

    def flag(code, subject, agreement, employee, day, hours="1", **kw):
        e = TimeEntryFactory(
            external_id=subject,
            employee=employee,
            date=day,
            project_code=agreement.project_code if agreement else "NOPE",
        )
        return FlagFactory(
            code=code,
            entry=e,
            agreement=agreement,
            employee=employee,
            day=day,
            hours=Decimal(hours),
            **kw,
        )

    return {
        "over1": flag("OVER_CAP", "10", a1, ann, dt.date(2026, 3, 2), "2"),
        "over2": flag("OVER_CAP", "9", a1, bob, dt.date(2026, 3, 5), "3"),
        "dup": flag("DUPLICATE_ENTRY", "11", a2, ann, dt.date(2026, 2, 10)),
        "none": flag("NO_AGREEMENT", "12", None, bob, dt.date(2026, 3, 1), "4"),
        "done": flag(
            "NO_AGREEMENT",
            "13",
            None,
            bob,
            dt.date(2026, 3, 1),
            status="written_off",
            reason="internal",
        ),
    }


def test_dashboard_lists_open_flags_with_summary(client_for, services_manager, flagged):
    r = client_for(services_manager).get(DASH)
    assert r.status_code == 200
    assert rows(r) == ["11", "12", "9", "10"]  # code, then Entry ID (numbers as numbers)
    assert r.context["summary"] == [
        {"code": "DUPLICATE_ENTRY", "count": 1, "hours": Decimal("1.0000")},
        {"code": "NO_AGREEMENT", "count": 1, "hours": Decimal("4.0000")},
        {"code": "OVER_CAP", "count": 2, "hours": Decimal("5.0000")},
    ]
    assert b"<h1>Exceptions</h1>" in r.content
    assert b"Apply to selected" in r.content


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"code": "OVER_CAP"}, ["9", "10"]),
        ({"customer": "acme"}, ["9", "10"]),
        ({"customer": "ACC-2"}, ["11"]),
        ({"agreement": "agr-1"}, ["9", "10"]),
        ({"employee": "E2"}, ["12", "9"]),
        ({"employee": "ann"}, ["11", "10"]),
        ({"sort": "-code"}, ["10", "9", "12", "11"]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-04"}, ["10"]),
        ({"status": "written_off"}, ["13"]),
        ({"status": "all", "code": "NO_AGREEMENT"}, ["12", "13"]),
        ({"sort": "subject"}, ["9", "10", "11", "12"]),
        ({"sort": "-hours"}, ["12", "9", "10", "11"]),
        ({"sort": "day"}, ["11", "12", "10", "9"]),
    ],
)
def test_filters_and_sorting(client_for, services_manager, flagged, query, expected):
    r = client_for(services_manager).get(DASH, query)
    assert rows(r) == expected


def test_summary_follows_filters_but_not_code(client_for, services_manager, flagged):
    r = client_for(services_manager).get(DASH, {"code": "OVER_CAP", "employee": "E1"})
    assert [(s["code"], s["count"]) for s in r.context["summary"]] == [
        ("DUPLICATE_ENTRY", 1),
        ("OVER_CAP", 1),
    ]


def test_empty_states(client_for, services_manager):
    client = client_for(services_manager)
    r = client.get(DASH)
    assert b"No flags yet." in r.content
    assert b"No reconciliation has run yet" in r.content
    assert b"No time entries are dated in" in r.content
    FlagFactory(code="NO_AGREEMENT", status="resolved")
    assert b"No open flags" in client.get(DASH).content
    assert b"No flags match these filters" in client.get(DASH, {"code": "OVER_CAP"}).content


def test_pagination(client_for, services_manager):
    for i in range(55):
        FlagFactory(code="NO_AGREEMENT", entry=TimeEntryFactory(external_id=f"{1000 + i}"))
    client = client_for(services_manager)
    first = client.get(DASH)
    assert len(rows(first)) == 50
    second = client.get(DASH, {"page": 2})
    assert rows(second) == [str(1050 + i) for i in range(5)]


def test_dashboard_query_count_is_bounded(
    client_for, services_manager, flagged, django_assert_max_num_queries
):
    client = client_for(services_manager)
    with django_assert_max_num_queries(25):
        client.get(DASH)


def test_write_off_one_flag_from_detail_page(client_for, services_manager, flagged):
    client = client_for(services_manager)
    flag = flagged["none"]
    page = client.get(reverse("timesheets:flag_detail", args=[flag.pk]))
    assert page.status_code == 200
    assert b"Write off" in page.content and b"Release" not in page.content
    r = client.post(
        reverse("timesheets:flag_action", args=[flag.pk]),
        {"action": "write_off", "reason": "Internal project"},
    )
    assert r.status_code == 302
    flag.refresh_from_db()
    assert (flag.status, flag.reason, flag.actioned_by) == (
        "written_off",
        "Internal project",
        services_manager,
    )


def test_refused_action_shows_reason_and_changes_nothing(client_for, services_manager, flagged):
    client = client_for(services_manager)
    flag = flagged["none"]
    r = client.post(
        reverse("timesheets:flag_action", args=[flag.pk]),
        {"action": "release", "reason": "x"},
        follow=True,
    )
    assert b"Only OVER_CAP and DUPLICATE_ENTRY flags can be released" in r.content
    r = client.post(
        reverse("timesheets:flag_action", args=[flag.pk]),
        {"action": "write_off", "reason": ""},
        follow=True,
    )
    assert b"A reason is required" in r.content
    flag.refresh_from_db()
    assert flag.status == "open" and flag.reason == ""


def test_bulk_release_keeps_filters(client_for, services_manager, flagged):
    client = client_for(services_manager)
    ids = [flagged["over1"].pk, flagged["over2"].pk]
    back = f"{DASH}?code=OVER_CAP"
    data = {"flag": ids, "action": "release", "reason": "PO 123", "next": back}
    ask = client.post(reverse("timesheets:flags_bulk"), data)
    assert ask.status_code == 200 and "Release 2 flags?" in ask.content.decode()
    assert set(Flag.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"open"}
    r = client.post(reverse("timesheets:flags_bulk"), {**data, "confirm_count": "2"})
    assert r.status_code == 302 and r["Location"] == back
    assert set(Flag.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"released"}
    r = client.post(
        reverse("timesheets:flags_bulk"),
        {
            "flag": [flagged["dup"].pk],
            "action": "release",
            "reason": "x",
            "next": "https://evil.example/",
            "confirm_count": "1",
        },
    )
    assert r["Location"] == DASH


@pytest.mark.parametrize("persona", ["billing_admin", "auditor"])
def test_readers_see_but_cannot_act(request, client_for, flagged, persona):
    client = client_for(request.getfixturevalue(persona))
    r = client.get(DASH)
    assert r.status_code == 200 and rows(r) == ["11", "12", "9", "10"]
    assert b"Apply to selected" not in r.content and b"Run now" not in r.content
    flag = flagged["none"]
    assert client.get(reverse("timesheets:flag_detail", args=[flag.pk])).status_code == 200
    posts = [
        (reverse("timesheets:flag_action", args=[flag.pk]), {"action": "write_off", "reason": "x"}),
        (
            reverse("timesheets:flags_bulk"),
            {"flag": [flag.pk], "action": "write_off", "reason": "x"},
        ),
        (reverse("timesheets:reconcile"), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403
    flag.refresh_from_db()
    assert flag.status == "open"
    assert ReconciliationRun.objects.count() == 0


@pytest.mark.parametrize("persona", ["finance", "outsider"])
def test_finance_and_outsider_refused(request, client_for, flagged, persona):
    client = client_for(request.getfixturevalue(persona))
    flag = flagged["none"]
    for url in [
        DASH,
        reverse("timesheets:flag_detail", args=[flag.pk]),
        reverse("timesheets:backlog"),
        reverse("timesheets:flags_export"),
    ]:
        assert client.get(url).status_code == 403, url
    assert (
        client.post(
            reverse("timesheets:flag_action", args=[flag.pk]),
            {"action": "write_off", "reason": "x"},
        ).status_code
        == 403
    )
    flag.refresh_from_db()
    assert flag.status == "open"


@pytest.mark.django_db(transaction=True)
def test_run_now_and_progress_endpoint(client_for, services_manager):
    TimeEntryFactory(external_id="1", project_code="NOPE")
    client = client_for(services_manager)
    r = client.post(reverse("timesheets:reconcile"), {"as_of": "2026-03-15"}, follow=True)
    assert b"Reconciliation as of 2026-03-15: 1 opened, 0 resolved, 1 open." in r.content
    run = ReconciliationRun.objects.get()
    status = client.get(reverse("timesheets:run_status", args=[run.pk])).json()
    assert status == {
        "id": run.pk,
        "as_of": "2026-03-15",
        "status": "done",
        "step": "Done",
        "steps_done": 9,
        "steps_total": 9,
        "opened": 1,
        "resolved": 0,
        "open_total": 1,
        "error": "",
        "finished": True,
    }
    assert rows(client.get(DASH)) == ["1"]


def test_export_download(client_for, auditor, flagged):
    r = client_for(auditor).get(reverse("timesheets:flags_export"), {"status": "written_off"})
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r.content.decode() == (
        "code,status,subject,agreement_id,project_code,hours,detail\r\n"
        "NO_AGREEMENT,written_off,13,,NOPE,1.00,No agreement of any stage has this project code.\r\n"
    )


def test_backlog_page(client_for, services_manager):
    def agr(ext, sold, delivered_h, **kw):
        a = AgreementFactory(
            external_id=ext,
            project_code=f"P-{ext}",
            hours_sold=Decimal(sold),
            start_date=dt.date(2026, 1, 1),
            **kw,
        )
        if delivered_h:
            TimeEntryFactory(
                project_code=a.project_code,
                duration_ms=int(delivered_h * H),
                date=dt.date(2026, 2, 1),
                billable=False,
            )
        return a

    agr("A-HALF", "10", 4, end_date=dt.date(2026, 6, 30))
    agr("A-NONE", "20", 0)
    agr("A-FULL", "5", 5)
    agr("A-DRAFT", "5", 0, stage=Agreement.Stage.DRAFT)
    TimeEntryFactory(
        project_code="P-A-HALF", duration_ms=H, date=dt.date(2025, 12, 31)
    )  # before start
    client = client_for(services_manager)
    r = client.get(reverse("timesheets:backlog"))
    got = [
        (x.agreement.external_id, x.sold, x.delivered, x.remaining, x.percent)
        for x in r.context["rows"]
    ]
    assert got == [
        ("A-HALF", Decimal("10.00"), Decimal("4.00"), Decimal("6.00"), Decimal("40.0")),
        ("A-NONE", Decimal("20.00"), Decimal("0.00"), Decimal("20.00"), Decimal("0.0")),
    ]
    r = client.get(reverse("timesheets:backlog"), {"all": "on"})
    assert [x.agreement.external_id for x in r.context["rows"]] == ["A-HALF", "A-FULL", "A-NONE"]
    assert (
        b"No Signed agreement"
        in client.get(reverse("timesheets:backlog"), {"customer": "nobody"}).content
    )


def test_working_days():
    assert working_days(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == 22
    assert working_days(dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == 20


@time_machine.travel(dt.datetime(2026, 4, 2, 12, tzinfo=dt.UTC))
def test_kpis(settings):
    settings.BILLING_CAPACITY_HOURS_PER_DAY = 8
    tm = AgreementFactory(project_code="TM", hourly_rate=Decimal("100"), billing_increment=15)
    RoleRateFactory(agreement=tm, role="Engineer", role_key="engineer", rate=Decimal("200"))
    AgreementFactory(
        project_code="FF",
        agreement_type=Agreement.Type.FIXED_FEE,
        hourly_rate=None,
        amount=Decimal("1000"),
    )
    ann, bob = EmployeeFactory(), EmployeeFactory()
    day = dt.date(2026, 3, 10)
    # Ann: 7:50 billable T&M as Engineer (rounded 8:00 -> 1600.00), 2h non-billable.
    TimeEntryFactory(
        employee=ann, project_code="TM", role="Engineer", duration_ms=7 * H + 50 * 60000, date=day
    )
    TimeEntryFactory(employee=ann, project_code="TM", duration_ms=2 * H, billable=False, date=day)
    # Bob: 1:01 T&M at the default rate, two roles share it (each rounds to 1:15 -> 2:30 x 100 = 250.00)
    TimeEntryFactory(
        employee=bob, project_code="TM", role="Designer", duration_ms=H + 60000, date=day
    )
    TimeEntryFactory(employee=bob, project_code="TM", role="", duration_ms=H + 60000, date=day)
    # Unapproved, fixed-fee and April entries are no unbilled value.
    TimeEntryFactory(employee=bob, project_code="TM", approved=False, duration_ms=H, date=day)
    TimeEntryFactory(employee=bob, project_code="FF", duration_ms=H, date=day)
    TimeEntryFactory(employee=bob, project_code="TM", duration_ms=H, date=dt.date(2026, 4, 1))
    # Invoiced (approved invoice) and written off.
    invoiced = TimeEntryFactory(employee=bob, project_code="TM", duration_ms=3 * H, date=day)
    written = TimeEntryFactory(employee=bob, project_code="TM", duration_ms=H, date=day)
    FlagFactory(code="OVER_CAP", entry=written, status="written_off", reason="goodwill")
    from invoicing.models import EntryBilling, Invoice

    inv = InvoiceFactory()
    EntryBilling.objects.create(
        entry=invoiced,
        agreement=tm,
        invoice=inv,
        period=dt.date(2026, 3, 1),
        rounded_minutes=180,
        block_minutes=180,
        billed_minutes=0,
    )
    Invoice.objects.filter(pk=inv.pk).update(
        status=Invoice.Status.APPROVED, number="INV-2026-00001", number_year=2026, number_seq=1
    )
    assert kpis(dt.date(2026, 3, 1)).unbilled_as_of is None  # not computed yet: never priced here
    services.unbilled_snapshot_refresh(last_day=dt.date(2026, 3, 31))
    k = kpis(dt.date(2026, 3, 1))
    # all = 7:50 + 2 + 1:01 + 1:01 + 1 + 1 + 3 + 1 = 17:52; billable = 15:52
    assert k.total_hours == Decimal("17.87")
    assert k.billable_hours == Decimal("15.87")
    assert k.billable_percent == Decimal("88.8")
    assert (k.employees, k.working_days, k.capacity_hours) == (2, 22, Decimal("352"))
    assert k.utilization_percent == Decimal("4.5")
    assert (k.entered_hours, k.invoiced_hours, k.written_off_hours) == (
        Decimal("15.87"),
        Decimal("3.00"),
        Decimal("1.00"),
    )
    assert k.pending_hours == Decimal("11.87")
    # Unbilled: Engineer 8:00 x 200 = 1600 (the written-off entry will never be billed: left
    # out); default rate: 1:15 + 1:15 = 2:30 x 100 = 250.
    assert k.unbilled == {"USD": Decimal("1850.00")}  # as stored by the refresh


def test_bulk_write_off_of_all_matching_asks_first(client_for, services_manager, flagged):
    client = client_for(services_manager)
    open_over_cap = list(
        Flag.objects.filter(code="OVER_CAP", status="open").values_list("pk", flat=True)
    )
    data = {
        "all": "1",
        "status": "open",
        "code": "OVER_CAP",
        "action": "write_off",
        "reason": "Goodwill",
    }
    ask = client.post(reverse("timesheets:flags_bulk"), data).content.decode()
    assert f"Write off {len(open_over_cap)} flag" in ask and 'name="all" value="1"' in ask
    assert Flag.objects.filter(pk__in=open_over_cap, status="open").count() == len(open_over_cap)
    no_action = client.post(reverse("timesheets:flags_bulk"), {**data, "action": ""}, follow=True)
    assert Flag.objects.filter(pk__in=open_over_cap, status="open").count() == len(open_over_cap)
    assert no_action.status_code == 200
    client.post(
        reverse("timesheets:flags_bulk"), {**data, "confirm_count": str(len(open_over_cap))}
    )
    assert set(Flag.objects.filter(pk__in=open_over_cap).values_list("status", flat=True)) == {
        "written_off"
    }
