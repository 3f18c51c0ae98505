"""Agreement matching (SPEC 2), in its three forms side by side: Python, SQL text, ORM.

An entry **matches** the agreement with the same Project Code whose Stage is Signed and whose
Start <= Date <= End (End empty = open). Overlap is refused at import, so there is at most one.

tests/agreements/test_matching.py checks on PostgreSQL that the forms agree on random data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import DateField, F, Q, Value
from django.db.models.functions import Coalesce

SIGNED = "signed"  # Agreement.Stage.SIGNED (models import nothing from here)


def matches(
    *,
    project_code: str,
    stage: str,
    start_date: dt.date,
    end_date: dt.date | None,
    entry_code: str,
    entry_date: dt.date,
) -> bool:
    """Does an entry (code, date) match an agreement with these terms? (Python form)"""
    return (
        project_code == entry_code
        and stage == SIGNED
        and start_date <= entry_date
        and (end_date is None or end_date >= entry_date)
    )


def match_sql(e: str = "e", a: str = "a") -> str:
    """Join condition: entry alias `e` matches agreement alias `a` (SQL form)."""
    return (
        f"{a}.project_code = {e}.project_code AND {a}.stage = '{SIGNED}' "
        f"AND {a}.start_date <= {e}.date AND ({a}.end_date IS NULL OR {a}.end_date >= {e}.date)"
    )


def covers_day_q(date: Any) -> Q:
    """Filter on Agreement: the agreements whose dates cover this day, Start <= day <= End
    (End empty = open), whatever their code and stage: the date half of matching (ORM form)."""
    return Q(start_date__lte=date) & (Q(end_date__isnull=True) | Q(end_date__gte=date))


def matching_agreements_q(*, project_code: Any, date: Any) -> Q:
    """Filter on Agreement: the agreements an entry with this code and date matches. Values
    may be expressions, e.g. `OuterRef("project_code")` (ORM form)."""
    return Q(project_code=project_code, stage=SIGNED) & covers_day_q(date)


def covered_entries_q(*, project_code: Any, start_date: Any, end_date: Any, prefix: str = "") -> Q:
    """Filter on TimeEntry (fields under `prefix`): the entries an agreement with this code and
    these dates covers; values may be expressions such as `OuterRef("end_date")`. The stage
    is the caller's to check: with a Signed agreement this is exactly `matches` (ORM form)."""
    if not hasattr(end_date, "resolve_expression"):
        end_date = Value(end_date, output_field=DateField())
    return Q(
        **{
            f"{prefix}project_code": project_code,
            f"{prefix}date__gte": start_date,
            f"{prefix}date__lte": Coalesce(end_date, F(f"{prefix}date")),
        }
    )
