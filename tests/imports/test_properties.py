"""Hypothesis: random bytes and random mutations of a valid file never raise an unhandled exception
and never write part of a file (all or nothing)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreements.services import agreement_import
from core import csvio
from tests.imports.data import agreement, agreements_csv, entries_csv, entry, rolled_back, snapshot
from timesheets.importing import COLUMNS, REQUIRED, import_entries
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
FAST = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID_ENTRIES = entries_csv(
    entry(),
    entry(
        **{
            "Entry ID": "1002",
            "Date": "01/16/2026",
            "Hours": "1:45",
            "Notes": 'multi\nline, "quoted"',
        }
    ),
    entry(**{"Entry ID": "1003", "Employee ID": "E2", "Hours": "0.25", "Billable": "no"}),
    line_end="\r\n",
    bom=True,
)
VALID_AGREEMENTS = agreements_csv(
    agreement(**{"Role Rates": "Engineer=150; PM=175"}),
    agreement(
        **{
            "Agreement ID": "AGR-2",
            "Parent Agreement ID": "AGR-1",
            "Project Code": "PRJ-2",
            "Agreement Type": "Fixed Fee",
            "Amount": "900",
            "Hourly Rate": "",
            "Milestones": "A:50:2026-02-01;B:50",
        }
    ),
)
# Bytes that matter to a CSV reader, plus some that break UTF-8.
SPECIAL = st.sampled_from(
    [
        b",",
        b'"',
        b"\n",
        b"\r",
        b"\r\n",
        b";",
        b":",
        b"=",
        b"\x00",
        b"\xff",
        b"\xc3",
        b" ",
        b"-",
        b"9",
        b"/",
    ]
)


@st.composite
def mutated(draw, valid: bytes):
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        chunk = draw(st.one_of(SPECIAL, st.binary(min_size=1, max_size=3)))
        if op == "replace" and data:
            data[pos : pos + len(chunk)] = chunk
        elif op == "insert":
            data[pos:pos] = chunk
        else:
            del data[pos : pos + draw(st.integers(1, 20))]
    return bytes(data)


def check_entries(data: bytes) -> None:
    with rolled_back():
        before = snapshot()
        result = import_entries(csvio.CsvReader(data, columns=COLUMNS, required=REQUIRED))
        if result.ok:
            # Everything or nothing: every row of the file was written, each with one history row.
            assert TimeEntry.objects.count() == result.created
            assert TimeEntry.history.count() == result.created
            assert result.updated == result.unchanged == 0
        else:
            assert all(isinstance(e.line, int) and e.column and e.message for e in result.errors)
            assert snapshot() == before


def check_agreements(data: bytes) -> None:
    with rolled_back():
        before = snapshot()
        result = agreement_import(file=data)
        if not result.ok:
            assert snapshot() == before


@FAST
@given(st.binary(max_size=3000))
def test_random_bytes_time_entries(data):
    check_entries(data)


@FAST
@given(st.binary(max_size=3000))
def test_random_bytes_agreements(data):
    check_agreements(data)


@FAST
@given(mutated(VALID_ENTRIES))
def test_mutated_time_entry_file(data):
    check_entries(data)


@FAST
@given(mutated(VALID_AGREEMENTS))
def test_mutated_agreement_file(data):
    check_agreements(data)


def test_the_unmutated_files_are_valid():
    with rolled_back():
        assert agreement_import(file=VALID_AGREEMENTS).created == 2
    with rolled_back():
        assert (
            import_entries(
                csvio.CsvReader(VALID_ENTRIES, columns=COLUMNS, required=REQUIRED)
            ).created
            == 3
        )
