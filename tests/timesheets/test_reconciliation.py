"""Reconciliation rules of SPEC 2 on PostgreSQL: each flag code raised, and just outside its boundary."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from agreements.models import Agreement
from tests.factories import (
    AgreementFactory,
    EmployeeFactory,
    FlagFactory,
    RoleRateFactory,
    TimeEntryFactory,
)
from timesheets.models import Flag, ReconciliationRun
from timesheets.services import flag_release, flag_write_off, reconciliation_run

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 15)
H = 3_600_000
MIN = 60_000


def run(as_of: dt.date = D, user=None) -> ReconciliationRun:
    return reconciliation_run(as_of=as_of, user=user)


AGREEMENT_CODES = ("NOT_STARTED", "UNDELIVERED_AT_END")


def open_flags(*, agreement_flags: bool = False) -> set[tuple[str, str]]:
    """Open (code, subject) pairs; agreement flags only when asked (most scenarios have
    agreements that started long before D with nothing delivered)."""
    qs = Flag.objects.filter(status="open")
    if not agreement_flags:
        qs = qs.exclude(code__in=AGREEMENT_CODES)
    return set(qs.values_list("code", "subject"))


def subjects(code: str, status: str = "open") -> set[str]:
    return set(Flag.objects.filter(code=code, status=status).values_list("subject", flat=True))


def entry(external_id: str, **kw):
    kw.setdefault("project_code", "PRJ-A")
    kw.setdefault("date", dt.date(2026, 3, 2))
    return TimeEntryFactory(external_id=external_id, **kw)


# -- NO_AGREEMENT / AGREEMENT_NOT_SIGNED / OUTSIDE_AGREEMENT_DATES -----------------------------


def test_no_agreement_flags_billable_entries_only():
    entry("1", project_code="NOPE")
    entry("2", project_code="NOPE", billable=False)
    run()
    assert open_flags() == {("NO_AGREEMENT", "1")}
    flag = Flag.objects.get(code="NO_AGREEMENT")
    assert flag.hours == Decimal("1.0000")
    assert flag.project_code == "NOPE"
    assert flag.entry.external_id == "1"
    assert "No agreement of any stage has project code NOPE" in flag.detail
    assert "1.00 h on 2026-03-02" in flag.detail


def test_agreement_not_signed_when_only_draft_or_cancelled():
    draft = AgreementFactory(external_id="AGR-D", project_code="PRJ-A", stage=Agreement.Stage.DRAFT)
    AgreementFactory(external_id="AGR-E", project_code="PRJ-A", stage=Agreement.Stage.CANCELLED)
    entry("1")
    run()
    assert open_flags() == {("AGREEMENT_NOT_SIGNED", "1")}
    flag = Flag.objects.get(code="AGREEMENT_NOT_SIGNED")
    assert flag.agreement == draft
    assert "agreement AGR-D is Draft (and 1 more not signed)" in flag.detail


def test_signed_agreement_elsewhere_is_outside_dates_not_unsigned():
    AgreementFactory(external_id="AGR-D", project_code="PRJ-A", stage=Agreement.Stage.DRAFT)
    AgreementFactory(
        external_id="AGR-S",
        project_code="PRJ-A",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31),
    )
    entry("1", date=dt.date(2026, 2, 1))
    run()
    assert open_flags() == {("OUTSIDE_AGREEMENT_DATES", "1")}
    detail = Flag.objects.get(code="OUTSIDE_AGREEMENT_DATES").detail
    assert "outside the dates of Signed agreement AGR-S (2026-01-01 to 2026-01-31)" in detail


def test_outside_dates_boundaries():
    AgreementFactory(
        external_id="AGR-S",
        project_code="PRJ-A",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31),
    )
    entry("1", date=dt.date(2025, 12, 31))
    entry("2", date=dt.date(2026, 1, 1))
    entry("3", date=dt.date(2026, 1, 31))
    entry("4", date=dt.date(2026, 2, 1))
    run()
    assert subjects("OUTSIDE_AGREEMENT_DATES") == {"1", "4"}
    assert open_flags() == {("OUTSIDE_AGREEMENT_DATES", "1"), ("OUTSIDE_AGREEMENT_DATES", "4")}


def test_outside_dates_names_the_nearest_signed_agreement():
    AgreementFactory(
        external_id="AGR-1",
        project_code="PRJ-A",
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 31),
    )
    AgreementFactory(
        external_id="AGR-2",
        project_code="PRJ-A",
        start_date=dt.date(2026, 3, 1),
        end_date=None,
    )
    entry("1", date=dt.date(2026, 2, 10))
    entry("2", date=dt.date(2025, 12, 1))
    run()
    by_subject = {f.subject: f for f in Flag.objects.filter(code="OUTSIDE_AGREEMENT_DATES")}
    assert by_subject["1"].agreement.external_id == "AGR-1"
    assert by_subject["2"].agreement.external_id == "AGR-1"
    AgreementFactory(
        external_id="AGR-0", project_code="PRJ-B", start_date=dt.date(2026, 3, 1), end_date=None
    )
    entry("3", project_code="PRJ-B", date=dt.date(2026, 2, 1))
    run()
    flag = Flag.objects.get(code="OUTSIDE_AGREEMENT_DATES", subject="3")
    assert "(2026-03-01 to open end)" in flag.detail


# -- MISSING_RATE ------------------------------------------------------------------------------


def test_missing_rate_role_rates_case_insensitive_and_default_rate():
    agr = AgreementFactory(external_id="AGR-T", project_code="PRJ-A", hourly_rate=None)
    RoleRateFactory(agreement=agr, role="Engineer", role_key="engineer")
    entry("1", role="  ENGINEER ")
    entry("2", role="Designer")
    entry("3", role="")
    entry("4", role="Designer", billable=False)
    AgreementFactory(external_id="AGR-R", project_code="PRJ-R", hourly_rate=Decimal("100"))
    entry("5", project_code="PRJ-R", role="Designer")
    run()
    assert subjects("MISSING_RATE") == {"2", "3"}
    flag = Flag.objects.get(code="MISSING_RATE", subject="2")
    assert flag.agreement == agr
    assert flag.detail == (
        'Agreement AGR-T (Time and Materials) has no rate for role "Designer" '
        "and no default Hourly Rate."
    )


def test_missing_rate_prepaid_yes_fixed_fee_never():
    AgreementFactory(
        external_id="AGR-P",
        project_code="PRJ-P",
        hourly_rate=None,
        agreement_type=Agreement.Type.PREPAID_HOURS,
        amount=Decimal("1000"),
        hours_sold=Decimal("10"),
    )
    AgreementFactory(
        external_id="AGR-F",
        project_code="PRJ-F",
        hourly_rate=None,
        agreement_type=Agreement.Type.FIXED_FEE,
        amount=Decimal("1000"),
    )
    entry("1", project_code="PRJ-P")
    entry("2", project_code="PRJ-F")
    run()
    assert open_flags() == {("MISSING_RATE", "1")}


# -- OVER_CAP ----------------------------------------------------------------------------------


def capped(external_id: str, project_code: str, cap: str, inc: int = 1) -> Agreement:
    return AgreementFactory(
        external_id=external_id,
        project_code=project_code,
        not_to_exceed_hours=Decimal(cap),
        billing_increment=inc,
    )


def test_over_cap_exactly_at_cap_is_not_flagged_one_minute_over_is():
    capped("AGR-AT", "PRJ-AT", "2.00")
    entry("1", project_code="PRJ-AT", duration_ms=60 * MIN)
    entry("2", project_code="PRJ-AT", duration_ms=60 * MIN, date=dt.date(2026, 3, 3))
    capped("AGR-OV", "PRJ-OV", "2.00")
    entry("3", project_code="PRJ-OV", duration_ms=60 * MIN)
    entry("4", project_code="PRJ-OV", duration_ms=61 * MIN, date=dt.date(2026, 3, 3))
    entry("5", project_code="PRJ-OV", duration_ms=1 * MIN, date=dt.date(2026, 3, 4))
    run()
    assert open_flags() == {("OVER_CAP", "4"), ("OVER_CAP", "5")}
    flag = Flag.objects.get(code="OVER_CAP", subject="4")
    assert flag.agreement.external_id == "AGR-OV"
    assert flag.detail == (
        "Agreement AGR-OV has a Not To Exceed cap of 2.00 h; with this entry of 1.02 h on "
        "2026-03-03 the running total is 2.02 h (each entry rounded up to 1 min), over the cap."
    )


def test_over_cap_uses_rounded_minutes():
    # 15-minute increment: 1 minute counts as 15, so 1:45 + 0:01 -> 2:00 (at cap), + 0:01 -> over.
    capped("AGR-R", "PRJ-A", "2.00", inc=15)
    entry("1", duration_ms=105 * MIN)
    entry("2", duration_ms=1 * MIN, date=dt.date(2026, 3, 3))
    entry("3", duration_ms=1 * MIN, date=dt.date(2026, 3, 4))
    run()
    assert open_flags() == {("OVER_CAP", "3")}
    detail = Flag.objects.get(code="OVER_CAP").detail
    assert "running total is 2.25 h (each entry rounded up to 15 min)" in detail


def test_over_cap_orders_by_date_then_numeric_entry_id():
    capped("AGR-N", "PRJ-A", "1.00")
    entry("10", duration_ms=H)
    entry("9", duration_ms=H)
    entry("8", duration_ms=H, date=dt.date(2026, 3, 3))
    run()
    # Same date: "9" < "10" numerically, so 10 is the entry that passes the cap.
    assert subjects("OVER_CAP") == {"10", "8"}


def test_over_cap_mixed_entry_ids_whole_numbers_first_then_text():
    # SPEC 5: 9, 10, 1a on the same day; a cap of 2 h lets 9 and 10 through, 1a passes it.
    capped("AGR-M", "PRJ-A", "2.00")
    entry("1a", duration_ms=H)
    entry("10", duration_ms=H)
    entry("9", duration_ms=H)
    run()
    assert subjects("OVER_CAP") == {"1a"}


def test_over_cap_text_entry_ids_compare_as_text():
    capped("AGR-X", "PRJ-A", "1.00")
    entry("A-9", duration_ms=H)
    entry("A-10", duration_ms=H)
    run()
    assert subjects("OVER_CAP") == {"A-9"}


def test_over_cap_only_for_time_and_materials_with_cap():
    AgreementFactory(project_code="PRJ-A", not_to_exceed_hours=None)
    AgreementFactory(
        project_code="PRJ-P",
        agreement_type=Agreement.Type.PREPAID_HOURS,
        not_to_exceed_hours=Decimal("1"),
        hours_sold=Decimal("1"),
        amount=Decimal("100"),
    )
    entry("1", duration_ms=10 * H)
    entry("2", project_code="PRJ-P", duration_ms=10 * H)
    run()
    assert subjects("OVER_CAP") == set()


def test_over_cap_skips_written_off_entries_and_unreleased_duplicates(services_manager):
    capped("AGR-C", "PRJ-A", "2.00")
    emp = EmployeeFactory()
    entry("1", duration_ms=H, employee=emp, notes="work")
    entry("2", duration_ms=H, employee=emp, notes="work")  # duplicate of 1
    entry("3", duration_ms=H, employee=emp, date=dt.date(2026, 3, 3))
    entry("4", duration_ms=H, employee=emp, date=dt.date(2026, 3, 4))
    run()
    # 2 is an unreleased duplicate: out of the total, so 1 + 3 = cap, 4 passes it.
    assert subjects("OVER_CAP") == {"4"}
    assert subjects("DUPLICATE_ENTRY") == {"2"}
    # Releasing the duplicate puts it back in the total: 3 passes the cap now.
    flag_release(
        flag=Flag.objects.get(code="DUPLICATE_ENTRY"), user=services_manager, reason="Two visits"
    )
    run()
    assert subjects("OVER_CAP") == {"3", "4"}
    # Writing off 3 takes it out: 1 + 2 = cap, 4 passes it; 3's flag stays written off.
    flag_write_off(
        flag=Flag.objects.get(code="OVER_CAP", subject="3"),
        user=services_manager,
        reason="Goodwill",
    )
    run()
    assert subjects("OVER_CAP") == {"4"}
    assert subjects("OVER_CAP", "written_off") == {"3"}


# -- DUPLICATE_ENTRY ---------------------------------------------------------------------------


def test_duplicate_entry_numeric_ids_and_trimmed_case_insensitive_notes():
    emp = EmployeeFactory(external_id="E1")
    AgreementFactory(external_id="AGR-1", project_code="PRJ-A")
    entry("10", employee=emp, notes="Fix login ")
    entry("9", employee=emp, notes=" fix LOGIN")
    entry("11", employee=emp, notes="fix login", duration_ms=2 * H)  # other hours
    entry("12", employee=emp, notes="fix logout")  # other notes
    entry("13", employee=emp, notes="fix login", date=dt.date(2026, 3, 3))  # other date
    entry("14", employee=EmployeeFactory(), notes="fix login")  # other employee
    run()
    assert subjects("DUPLICATE_ENTRY") == {"10"}
    flag = Flag.objects.get(code="DUPLICATE_ENTRY")
    assert flag.agreement.external_id == "AGR-1"
    assert flag.detail == (
        "Same employee E1, date 2026-03-02, project PRJ-A, hours 1.00 and notes as entry 9, "
        "which has a smaller Entry ID."
    )


def test_duplicate_entry_text_ids_compare_as_text_and_all_later_copies_flagged():
    emp = EmployeeFactory()
    entry("A-9", employee=emp)
    entry("A-10", employee=emp)
    entry("B-1", employee=emp)
    run()
    assert subjects("DUPLICATE_ENTRY") == {"A-9", "B-1"}


def test_duplicate_of_non_billable_entry_flags_only_billable_copy():
    emp = EmployeeFactory()
    entry("1", employee=emp, billable=False)
    entry("2", employee=emp)
    entry("3", employee=emp, billable=False)
    run()
    assert subjects("DUPLICATE_ENTRY") == {"2"}


# -- UNAPPROVED_TIME ---------------------------------------------------------------------------


def test_unapproved_time_boundary_d_minus_7():
    AgreementFactory(project_code="PRJ-A")
    entry("1", approved=False, date=D - dt.timedelta(days=7))
    entry("2", approved=False, date=D - dt.timedelta(days=6))
    entry("3", approved=True, date=D - dt.timedelta(days=30))
    entry("4", approved=False, billable=False, date=D - dt.timedelta(days=30))
    run()
    assert open_flags() == {("UNAPPROVED_TIME", "1")}
    run(as_of=D + dt.timedelta(days=1))
    assert subjects("UNAPPROVED_TIME") == {"1", "2"}


# -- EXCESSIVE_DAILY_HOURS ---------------------------------------------------------------------


def test_excessive_daily_hours_counts_all_hours_and_boundary():
    AgreementFactory(project_code="PRJ-A")
    at_limit = EmployeeFactory(external_id="E-AT")
    entry("1", employee=at_limit, duration_ms=8 * H)
    entry("2", employee=at_limit, duration_ms=4 * H, billable=False, notes="admin")
    over = EmployeeFactory(external_id="E-OV", name="Olga Over")
    entry("3", employee=over, duration_ms=8 * H)
    entry("4", employee=over, duration_ms=4 * H + MIN, billable=False, notes="admin")
    entry("5", employee=over, duration_ms=8 * H, date=dt.date(2026, 3, 3))
    run()
    assert open_flags() == {("EXCESSIVE_DAILY_HOURS", "E-OV@2026-03-02")}
    flag = Flag.objects.get(code="EXCESSIVE_DAILY_HOURS")
    assert flag.employee == over
    assert flag.day == dt.date(2026, 3, 2)
    assert flag.hours == Decimal("12.0167")
    assert flag.detail == (
        "Employee E-OV (Olga Over) logged 12.02 h on 2026-03-02 in 2 entries, over the 12 h daily limit."
    )


# -- NOT_STARTED / UNDELIVERED_AT_END ----------------------------------------------------------


def test_not_started_boundary_d_minus_14():
    AgreementFactory(
        external_id="AGR-14",
        project_code="P14",
        start_date=D - dt.timedelta(days=14),
        hours_sold=Decimal("40"),
    )
    AgreementFactory(external_id="AGR-13", project_code="P13", start_date=D - dt.timedelta(days=13))
    AgreementFactory(external_id="AGR-NB", project_code="PNB", start_date=D - dt.timedelta(days=30))
    AgreementFactory(
        external_id="AGR-DR",
        project_code="PDR",
        start_date=D - dt.timedelta(days=30),
        stage=Agreement.Stage.DRAFT,
    )
    entry("1", project_code="PNB", billable=False, date=D - dt.timedelta(days=20))  # delivered
    run()
    assert open_flags(agreement_flags=True) == {("NOT_STARTED", "AGR-14")}
    flag = Flag.objects.get(code="NOT_STARTED")
    assert flag.hours == Decimal("40.0000")
    assert flag.entry is None and flag.agreement.external_id == "AGR-14"
    assert flag.detail == (
        "Signed agreement AGR-14 for P14 started 2026-03-01, 14 or more days ago, and no hours "
        "are delivered (40.00 h sold): sold, not yet delivered."
    )


def test_undelivered_at_end_boundary_end_before_d():
    def agr(ext, code, end, sold="10"):
        return AgreementFactory(
            external_id=ext,
            project_code=code,
            start_date=dt.date(2026, 3, 1),
            end_date=end,
            hours_sold=Decimal(sold) if sold else None,
        )

    agr("AGR-END1", "P1", D - dt.timedelta(days=1))
    agr("AGR-END0", "P0", D)
    agr("AGR-FULL", "PF", D - dt.timedelta(days=1))
    agr("AGR-NOSOLD", "PN", D - dt.timedelta(days=1), sold=None)
    entry("1", project_code="P1", duration_ms=5 * H, date=dt.date(2026, 3, 2))
    entry("2", project_code="P0", duration_ms=5 * H, date=dt.date(2026, 3, 2))
    entry("3", project_code="PF", duration_ms=10 * H, date=dt.date(2026, 3, 2))
    entry("4", project_code="PN", duration_ms=1 * H, date=dt.date(2026, 3, 2))
    run()
    assert open_flags(agreement_flags=True) == {("UNDELIVERED_AT_END", "AGR-END1")}
    flag = Flag.objects.get(code="UNDELIVERED_AT_END")
    assert flag.hours == Decimal("5.0000")
    assert flag.day == D - dt.timedelta(days=1)
    assert flag.detail == (
        "Signed agreement AGR-END1 for P1 ended 2026-03-14 with 5.00 of 10.00 h sold delivered; "
        "5.00 h were never delivered."
    )


# -- idempotency, resolution, actions surviving re-runs ----------------------------------------


def test_rerun_is_idempotent_and_writes_no_history():
    entry("1", project_code="NOPE")
    AgreementFactory(external_id="AGR-14", project_code="P14", start_date=D - dt.timedelta(days=20))
    first = run()
    assert (first.opened, first.resolved, first.open_total) == (2, 0, 2)
    before = set(Flag.objects.values_list("id", "code", "subject", "status", "detail", "hours"))
    history = Flag.history.count()
    second = run()
    assert (second.opened, second.resolved, second.open_total) == (0, 0, 2)
    assert (
        set(Flag.objects.values_list("id", "code", "subject", "status", "detail", "hours"))
        == before
    )
    assert Flag.history.count() == history
    assert second.status == "done" and second.steps_done == second.steps_total


def test_cause_gone_resolves_and_cause_back_reopens_same_row():
    e = entry("1", project_code="NOPE")
    run()
    flag = Flag.objects.get()
    agreement = AgreementFactory(project_code="NOPE", start_date=dt.date(2026, 1, 1))
    result = run()
    flag.refresh_from_db()
    assert (result.opened, result.resolved) == (0, 1)
    assert flag.status == "resolved" and flag.resolved_at is not None
    agreement.delete()
    e.refresh_from_db()
    result = run()
    assert result.opened == 1
    assert Flag.objects.get().pk == flag.pk
    assert Flag.objects.get().status == "open"
    assert Flag.objects.get().resolved_at is None


def test_release_and_write_off_survive_reruns_even_when_cause_is_gone(services_manager):
    capped("AGR-C", "PRJ-A", "1.00")
    entry("1", duration_ms=H)
    entry("2", duration_ms=H, date=dt.date(2026, 3, 3))
    entry("3", project_code="NOPE")
    run()
    released = flag_release(
        flag=Flag.objects.get(code="OVER_CAP"), user=services_manager, reason="Customer PO 77"
    )
    written = flag_write_off(
        flag=Flag.objects.get(code="NO_AGREEMENT"), user=services_manager, reason="Internal"
    )
    run()
    run()
    released.refresh_from_db()
    written.refresh_from_db()
    assert released.status == "released" and released.reason == "Customer PO 77"
    assert written.status == "written_off" and written.actioned_by == services_manager
    # The causes go away: still released / written off, never resolved.
    AgreementFactory(project_code="NOPE")
    Agreement.objects.filter(external_id="AGR-C").update(not_to_exceed_hours=Decimal("10"))
    result = run()
    released.refresh_from_db()
    written.refresh_from_db()
    assert (released.status, written.status) == ("released", "written_off")
    assert result.resolved == 0


def test_changed_after_invoicing_is_never_resolved_by_reconciliation():
    e = entry("1")
    AgreementFactory(project_code="PRJ-A")
    FlagFactory(code="CHANGED_AFTER_INVOICING", entry=e, detail="Hours changed after invoicing")
    result = run()
    assert result.resolved == 0
    assert open_flags() == {("CHANGED_AFTER_INVOICING", "1")}


def test_history_rows_record_who_ran_it_and_what_changed(services_manager):
    e = entry("1", project_code="NOPE")
    run(user=services_manager)
    flag = Flag.objects.get()
    rows = list(
        flag.history.order_by("history_id").values_list("history_type", "status", "history_user_id")
    )
    assert rows == [("+", "open", services_manager.pk)]
    AgreementFactory(project_code="NOPE")
    run()  # the nightly job: no user
    rows = list(
        flag.history.order_by("history_id").values_list("history_type", "status", "history_user_id")
    )
    assert rows == [("+", "open", services_manager.pk), ("~", "resolved", None)]
    assert flag.history.first().history_change_reason == "Reconciliation as of 2026-03-15"
    assert e.pk == flag.entry_id


def test_detail_refreshes_when_running_total_changes():
    capped("AGR-C", "PRJ-A", "1.00")
    entry("1", duration_ms=H)
    entry("2", duration_ms=H, date=dt.date(2026, 3, 3))
    run()
    assert "running total is 2.00 h" in Flag.objects.get(code="OVER_CAP").detail
    entry("0", duration_ms=H, date=dt.date(2026, 3, 1))
    result = run()
    assert subjects("OVER_CAP") == {"1", "2"}
    assert "running total is 3.00 h" in Flag.objects.get(subject="2").detail
    assert result.opened == 1


def test_run_records_progress_and_counts(services_manager):
    entry("1", project_code="NOPE")
    result = run(user=services_manager)
    result.refresh_from_db()
    assert result.status == "done"
    assert result.started_by == services_manager
    assert (result.opened, result.resolved, result.open_total) == (1, 0, 1)
    assert result.steps_done == result.steps_total == 9
    assert result.started_at and result.finished_at


def test_query_count_does_not_grow_with_entries():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    AgreementFactory(project_code="PRJ-A", not_to_exceed_hours=Decimal("1"))

    def count_queries(n: int, start: int) -> int:
        for i in range(start, start + n):
            entry(
                str(i),
                project_code="PRJ-A" if i % 2 else "NOPE",
                duration_ms=H,
                date=dt.date(2026, 3, 2) + dt.timedelta(days=i % 5),
            )
        with CaptureQueriesContext(connection) as ctx:
            run()
        return len(ctx.captured_queries)

    small = count_queries(3, 0)
    large = count_queries(60, 100)
    assert small == large
    assert len(open_flags()) == 32 + 30  # NO_AGREEMENT for even IDs, OVER_CAP for all odd but one
