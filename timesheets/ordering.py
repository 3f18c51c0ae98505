"""The entry order (SPEC 5), in its three forms side by side: Python, SQL text, ORM.

Entry IDs are ordered whole numbers first, by value, then the others as text (`9`, `10`, `1a`,
`A-2`); "smaller Entry ID" and every "(Date, Entry ID) order" mean this order. Text compares by
code point (PostgreSQL `COLLATE "C"`: UTF-8 bytes sort in code-point order, as Python's `str`
does). Two whole numbers of equal value (`7`, `007`) fall back to their text. Entry IDs are
unique, so the order is total.

A whole-number Entry ID is 1 to 30 ASCII digits; it is stored a second time, as a number, in
`TimeEntry.external_number` (null otherwise), which is what the SQL and ORM forms read.

tests/timesheets/test_ordering.py checks on PostgreSQL that the three forms agree on random IDs.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.db.models import F, OrderBy
from django.db.models.functions import Collate

ENTRY_NUMBER = re.compile(r"[0-9]{1,30}")
# The same test for SQL, e.g. `CASE WHEN s.external_id ~ {ENTRY_NUMBER_SQL} THEN ...`.
ENTRY_NUMBER_SQL = "'^[0-9]{1,30}$'"


def entry_number(external_id: str) -> int | None:
    """The Entry ID as a number when it is a whole number, else None."""
    return int(external_id) if ENTRY_NUMBER.fullmatch(external_id) else None


def entry_id_key(external_id: str, external_number: int | Decimal | None) -> tuple:
    """Sort key of an Entry ID (Python form)."""
    return (external_number is None, external_number or 0, external_id)


def entry_key(date: dt.date, external_id: str, external_number: int | Decimal | None) -> tuple:
    """Sort key of (Date, Entry ID) (Python form)."""
    return (date, *entry_id_key(external_id, external_number))


def entry_id_order_sql(alias: str = "e") -> str:
    """ORDER BY items of the Entry ID order for table alias `alias` (SQL form)."""
    return (
        f"({alias}.external_number IS NULL), {alias}.external_number, "
        f'{alias}.external_id COLLATE "C"'
    )


def entry_order_sql(alias: str = "e") -> str:
    """ORDER BY items of the (Date, Entry ID) order (SQL form)."""
    return f"{alias}.date, {entry_id_order_sql(alias)}"


def entry_id_order_by(prefix: str = "") -> list[OrderBy]:
    """`order_by(*...)` arguments of the Entry ID order; `prefix` e.g. "entry__" (ORM form)."""
    return [
        F(f"{prefix}external_number").asc(nulls_last=True),
        Collate(F(f"{prefix}external_id"), "C").asc(),
    ]


def entry_order_by(prefix: str = "") -> list[OrderBy]:
    """`order_by(*...)` arguments of the (Date, Entry ID) order (ORM form)."""
    return [F(f"{prefix}date").asc(), *entry_id_order_by(prefix)]
