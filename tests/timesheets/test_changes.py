"""The import's "changed" rule (timesheets/importing/changes.py): its Python and SQL forms agree on
random stored/staged pairs, for every field the import sets and for the billing fields alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from timesheets.importing import changes

pytestmark = pytest.mark.django_db

# Values that are easy to confuse: empty, trailing space, case, non-ASCII, composed vs decomposed.
TEXT = st.sampled_from(
    ["", " ", "a", "a ", "A", "Engineer", "engineer", "Ingénieur", "Inge\u0301nieur"]
)
VALUES = {
    "date": st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31)),
    "employee_id": st.integers(min_value=1, max_value=5),
    "role": TEXT,
    "project_code": TEXT,
    "task": TEXT,
    "duration_ms": st.integers(min_value=1, max_value=86_400_000),
    "billable": st.booleans(),
    "approved": st.booleans(),
    "notes": TEXT
    | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=5),
}
TYPES = {
    "date": "date",
    "employee_id": "bigint",
    "duration_ms": "integer",
    "billable": "boolean",
    "approved": "boolean",
}


@st.composite
def pairs(draw: st.DrawFn) -> tuple[dict, dict]:
    """A stored row and a staged row; each field is either copied or drawn afresh."""
    old = {f: draw(s) for f, s in VALUES.items()}
    new = {f: (old[f] if draw(st.booleans()) else draw(VALUES[f])) for f in VALUES}
    return old, new


def sql_differs(condition: str, old: dict, new: dict) -> bool:
    """Evaluate ``condition`` (a changes.*_DIFFER fragment) with t = old, s/e = new."""
    staged = [f for f in changes.ENTRY_FIELDS if f != "employee_id"]

    def cast(f: str) -> str:
        return f"%s::{TYPES.get(f, 'text')}"

    sql = (
        f"SELECT {condition} FROM "
        f"(SELECT {', '.join(f'{cast(f)} AS {f}' for f in changes.ENTRY_FIELDS)}) t, "
        f"(SELECT {', '.join(f'{cast(f)} AS {f}' for f in staged)}) s, "
        f"(SELECT {cast('employee_id')} AS id) e"
    )
    params = [old[f] for f in changes.ENTRY_FIELDS] + [new[f] for f in staged]
    params.append(new["employee_id"])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


PROPERTY = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(pairs())
def test_python_and_sql_agree_on_every_imported_field(pair: tuple[dict, dict]) -> None:
    old, new = pair
    assert changes.differs(old, new) == sql_differs(changes.ALL_DIFFER, old, new)


@PROPERTY
@given(pairs())
def test_python_and_sql_agree_on_the_billing_fields(pair: tuple[dict, dict]) -> None:
    old, new = pair
    python = changes.differs(old, new, changes.BILLING_FIELDS)
    assert python == sql_differs(changes.BILLING_DIFFER, old, new)
    assert python == bool(changes.changed_fields(old, new, changes.BILLING_FIELDS))


def test_the_billing_fields_are_a_subset_and_only_they_flag() -> None:
    assert set(changes.BILLING_FIELDS) <= set(changes.ENTRY_FIELDS)
    old = {
        "date": dt.date(2026, 1, 15), "employee_id": 1, "role": "Engineer", "project_code": "P-1",
        "task": "", "duration_ms": 3_600_000, "billable": True, "approved": True, "notes": "",
    }  # fmt: skip
    new = {**old, "notes": old["notes"] + "x", "task": old["task"] + "x"}
    assert changes.differs(old, new)
    assert sql_differs(changes.ALL_DIFFER, old, new)
    assert not changes.differs(old, new, changes.BILLING_FIELDS)
    assert not sql_differs(changes.BILLING_DIFFER, old, new)
    assert changes.changed_fields(old, new) == ["task", "notes"]
