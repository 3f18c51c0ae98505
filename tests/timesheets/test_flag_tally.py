"""The flag tally (timesheets_flagtally, kept current by PostgreSQL triggers) equals a count of
the flags after every event that changes them: a reconciliation run (new, re-opened, resolved
flags), an import raising CHANGED_AFTER_INVOICING, a release or write-off by hand, a bulk
action, an entry deleted (its flags cascade), raw SQL; compaction keeps the figures. The
dashboard reads it: its query count does not grow with the flags."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core import csvio
from tests.factories import AgreementFactory, FlagFactory, TimeEntryFactory
from tests.imports.data import entries_csv, entry
from timesheets.importing import COLUMNS, REQUIRED, import_entries
from timesheets.models import Flag, FlagTally, TimeEntry
from timesheets.services import flag_release, flag_write_off, flags_bulk_action, reconciliation_run
from timesheets.tally import flag_tally, tally_compact

pytestmark = pytest.mark.django_db

D = dt.date(2026, 3, 15)


def counted() -> dict[tuple[str, str], tuple[int, Decimal]]:
    rows = Flag.objects.values("status", "code").annotate(n=Count("id"), h=Sum("hours"))
    return {(r["status"], r["code"]): (r["n"], r["h"] or Decimal("0")) for r in rows}


def assert_tally_is_the_count() -> None:
    assert flag_tally() == counted()


def test_tally_follows_runs_imports_actions_deletes_and_raw_sql(services_manager):
    AgreementFactory(project_code="PRJ-A", start_date=dt.date(2026, 1, 1))
    for n in range(1, 6):
        TimeEntryFactory(external_id=str(n), project_code="NOPE", date=dt.date(2026, 3, 2))
    TimeEntryFactory(external_id="6", project_code="PRJ-A", date=dt.date(2026, 3, 2))
    reconciliation_run(as_of=D, user=None)
    assert flag_tally()[("open", "NO_AGREEMENT")][0] == 5
    assert_tally_is_the_count()

    one, two, three = Flag.objects.filter(code="NO_AGREEMENT").order_by("subject")[:3]
    flag_write_off(flag=one, user=services_manager, reason="internal")
    assert_tally_is_the_count()
    flags_bulk_action(
        flag_ids=[two.pk, three.pk], action="write_off", user=services_manager, reason="x"
    )
    assert_tally_is_the_count()
    assert flag_tally()[("written_off", "NO_AGREEMENT")][0] == 3

    # The cause of one open flag goes away: the next run resolves it; a new one is opened.
    TimeEntry.objects.filter(external_id="4").update(project_code="PRJ-A")
    TimeEntryFactory(external_id="7", project_code="NOPE", date=dt.date(2026, 3, 3))
    reconciliation_run(as_of=D, user=None)
    assert ("resolved", "NO_AGREEMENT") in flag_tally()
    assert_tally_is_the_count()

    TimeEntry.objects.filter(external_id="5").delete()  # its flag goes with it (CASCADE)
    assert_tally_is_the_count()
    with connection.cursor() as cur:
        cur.execute("UPDATE timesheets_flag SET hours = 2.5 WHERE status = 'open'")
    assert_tally_is_the_count()


def test_an_import_that_raises_changed_after_invoicing_is_counted(billing_admin):
    def run(data: bytes):
        return import_entries(csvio.CsvReader(data, columns=COLUMNS, required=REQUIRED))

    assert run(entries_csv(entry())).ok
    TimeEntry.objects.update(locked=True)
    assert run(entries_csv(entry(Hours="2"))).ok
    assert flag_tally() == {("open", "CHANGED_AFTER_INVOICING"): (1, Decimal("1.5"))}
    assert_tally_is_the_count()


def test_release_and_compaction_keep_the_figures(services_manager):
    flags = [FlagFactory(code="OVER_CAP", hours=Decimal("1.25")) for _ in range(4)]
    flag_release(flag=flags[0], user=services_manager, reason="agreed")
    before = flag_tally()
    assert FlagTally.objects.count() > len(before)  # one delta row per statement and pair
    tally_compact()
    assert flag_tally() == before == counted()
    assert FlagTally.objects.count() == len(before)
    assert before == {
        ("open", "OVER_CAP"): (3, Decimal("3.75")),
        ("released", "OVER_CAP"): (1, Decimal("1.25")),
    }


def _dashboard_queries(client) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("timesheets:dashboard"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content


def test_dashboard_query_count_does_not_grow_with_flags(client_for, services_manager):
    client = client_for(services_manager)
    for n in range(20):
        FlagFactory(code="MISSING_RATE", entry=TimeEntryFactory(external_id=str(100 + n)))
    small, _ = _dashboard_queries(client)
    for n in range(40):
        FlagFactory(code="NO_AGREEMENT", entry=TimeEntryFactory(external_id=str(200 + n)))
    large, html = _dashboard_queries(client)
    assert large == small
    assert b'<td class="num count">40</td>' in html and b'<td class="num count">20</td>' in html
    assert b"Select all 60 matching flags" in html  # the page count is the tally's


def test_subject_number_is_the_entry_number_of_entry_flags():
    numbered = FlagFactory(entry=TimeEntryFactory(external_id="0042"))
    text = FlagFactory(entry=TimeEntryFactory(external_id="A-7"))
    agreement = FlagFactory(code="NOT_STARTED", entry=None, subject="123", project_code="P")
    got = dict(Flag.objects.values_list("pk", "subject_number"))
    entry_number = TimeEntry.objects.get(external_id="0042").external_number
    assert got == {numbered.pk: Decimal(42), text.pk: None, agreement.pk: None}
    assert entry_number == Decimal(42)
