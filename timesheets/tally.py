"""Flags per (status, code) kept current by PostgreSQL (timesheets_flagtally, migration 0005):
the dashboard's summary, page count and "any flag" read these few rows instead of counting every
flag. The triggers are the only writers of deltas; `tally_compact` folds them."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from timesheets.models import FlagTally

Tally = dict[tuple[str, str], tuple[int, Decimal]]


def flag_tally() -> Tally:
    """(status, code) -> (flags, hours), without the (status, code) pairs that have no flag."""
    rows = (
        FlagTally.objects.values("status", "code")
        .annotate(flags_sum=Sum("flags"), hours_sum=Sum("hours"))
        .order_by()
    )
    return {
        (r["status"], r["code"]): (r["flags_sum"], r["hours_sum"]) for r in rows if r["flags_sum"]
    }


def tally_compact() -> None:
    """One row per (status, code): the rows read are deleted and their sums written back in one
    statement (one snapshot), so a writer committing meanwhile keeps its own delta rows."""
    with connection.cursor() as cur:
        cur.execute("""
            WITH gone AS (DELETE FROM timesheets_flagtally RETURNING status, code, flags, hours)
            INSERT INTO timesheets_flagtally (status, code, flags, hours)
            SELECT status, code, SUM(flags), SUM(hours) FROM gone
            GROUP BY status, code HAVING SUM(flags) <> 0 OR SUM(hours) <> 0
        """)
