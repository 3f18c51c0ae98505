"""Counts read as English (issue 15): "1 entry", "2 entries", never "1 entries"."""

from __future__ import annotations

from pathlib import Path

import pytest

from timesheets.importing import time_entry_import
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db

TOGGL = (Path(__file__).parent.parent / "imports" / "fixtures" / "toggl.csv").read_bytes()


def test_replace_period_says_how_many_entries_it_deleted(billing_admin):
    time_entry_import(file=TOGGL, user=billing_admin)
    lines = TOGGL.splitlines()
    # The re-export lost one of the two identical design rows.
    one_gone = b"\n".join([lines[0], lines[1], lines[3]]) + b"\n"
    result = time_entry_import(file=one_gone, user=billing_admin, replace_period=True)
    assert (
        "1 entry of this source and period that the file no longer has was deleted."
        in result.notices
    )
    assert TimeEntry.objects.count() == 2
