"""The flag drill-down (timesheets.selectors.flag_entries): an agreement flag lists the entries
the agreement covers by SPEC 2 matching (agreements.matching), and every list is in SPEC 5's
(Date, Entry ID) order (timesheets.ordering), not the Entry IDs' text order."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import AgreementFactory, EmployeeFactory, FlagFactory, TimeEntryFactory
from timesheets.models import Flag
from timesheets.selectors import flag_entries

pytestmark = pytest.mark.django_db

JAN = dt.date(2026, 1, 1)


def _ids(flag: Flag) -> list[str]:
    return list(flag_entries(flag).values_list("external_id", flat=True))


def _agreement_flag(agreement) -> Flag:
    return FlagFactory(
        code=Flag.Code.UNDELIVERED_AT_END,
        entry=None,
        subject=agreement.external_id,
        project_code=agreement.project_code,
        agreement=agreement,
    )


def test_agreement_flag_lists_entries_up_to_and_on_the_end_date_in_spec_5_order():
    a = AgreementFactory(project_code="P1", start_date=JAN, end_date=JAN + dt.timedelta(days=9))
    for external_id, day, code in [
        ("1a", 9, "P1"),  # on the end date
        ("10", 9, "P1"),
        ("9", 9, "P1"),
        ("2", 10, "P1"),  # the day after the end date
        ("3", -1, "P1"),  # the day before the start date
        ("4", 0, "P2"),  # another project
        ("5", 0, "P1"),  # on the start date
    ]:
        TimeEntryFactory(
            external_id=external_id, project_code=code, date=JAN + dt.timedelta(days=day)
        )
    assert _ids(_agreement_flag(a)) == ["5", "9", "10", "1a"]


def test_agreement_flag_with_no_end_date_covers_every_later_day():
    a = AgreementFactory(project_code="P1", start_date=JAN, end_date=None)
    TimeEntryFactory(external_id="7", project_code="P1", date=JAN + dt.timedelta(days=4000))
    TimeEntryFactory(external_id="8", project_code="P1", date=JAN - dt.timedelta(days=1))
    assert _ids(_agreement_flag(a)) == ["7"]


def test_daily_hours_flag_lists_the_days_entries_whole_numbers_first():
    employee = EmployeeFactory()
    for external_id in ["1a", "10", "9"]:
        TimeEntryFactory(external_id=external_id, employee=employee, date=JAN)
    TimeEntryFactory(external_id="11", employee=employee, date=JAN + dt.timedelta(days=1))
    flag = FlagFactory(
        code=Flag.Code.EXCESSIVE_DAILY_HOURS,
        entry=None,
        subject=f"{employee.external_id}@{JAN.isoformat()}",
        project_code="",
        employee=employee,
        day=JAN,
    )
    assert _ids(flag) == ["9", "10", "1a"]
