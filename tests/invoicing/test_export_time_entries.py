"""export_time_entries writes rows in SPEC 5's (Date, Entry ID) order (timesheets.ordering):
whole-number Entry IDs first by value, then the others as text by code point."""

from __future__ import annotations

import datetime as dt

import pytest

from invoicing.management.commands.export_time_entries import entry_export_rows
from tests.factories import TimeEntryFactory

pytestmark = pytest.mark.django_db

JAN = dt.date(2026, 1, 1)


def test_rows_come_in_date_then_spec_5_entry_id_order():
    for external_id, day in [("b1", 0), ("1a", 0), ("B2", 0), ("10", 0), ("9", 0), ("2", 1)]:
        TimeEntryFactory(external_id=external_id, date=JAN + dt.timedelta(days=day))
    ids = [row["Entry ID"] for row in entry_export_rows()]
    assert ids == ["9", "10", "1a", "B2", "b1", "2"]
