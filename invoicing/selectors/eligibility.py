"""What a run may bill (SPEC 3): eligible entries, due milestones and prepaid blocks, and whether
an entry is invoiced (for timesheets, through core.entry_billing).

Eligibility for billing is written here once, in two forms side by side: `eligible_match`
(Python, one entry) and `_ELIGIBLE_SQL` / `eligible_entry_rows` (SQL, every entry at once; the
run, its per-group re-check and, through the run, the KPI tiles' unbilled value). An entry is
eligible for a run for the period ending D when it is billable, approved, dated on or before D,
has no billing row (on a draft, a final invoice, or drawn from a prepaid block; rejecting a
draft deletes its rows, so its entries are eligible again; crediting an invoice does not), has
no blocking flag (`Flag.blocks_billing`: a blocking code, open or written off) and matches a
Signed Time & Materials or Prepaid Hours agreement (`agreements.matching`).
tests/invoicing/test_eligibility.py checks on PostgreSQL that the forms agree on random data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import (
    Q,
    QuerySet,
)

from agreements.matching import match_sql, matches
from agreements.models import Agreement, Milestone
from invoicing.models import (
    EntryBilling,
    Invoice,
)
from invoicing.selectors.common import BILLED_TYPES
from timesheets.models import Flag, TimeEntry

# The one place eligibility is written in SQL. A join of entries to their matching agreement
# (not a correlated subquery per entry: PostgreSQL would evaluate that for every unbilled entry,
# once per billing group) with anti-joins on billings and blocking flags.
_ELIGIBLE_SQL = """
SELECT {columns}
FROM {entry} e
JOIN {agreement} a
  ON {match}
 AND a.agreement_type IN (%s, %s)
WHERE e.billable = %s AND e.approved = %s AND e.date <= %s
  AND NOT EXISTS (SELECT 1 FROM {billing} b WHERE b.entry_id = e.id)
  AND NOT EXISTS (
      SELECT 1 FROM {flag} f
      WHERE f.entry_id = e.id AND f.code IN ({codes}) AND f.status IN ({statuses})
  )
  {only_ids}
ORDER BY e.id, a.id
"""


class EntryRow(NamedTuple):
    id: int
    external_id: str
    external_number: int | None
    date: dt.date
    role: str
    duration_ms: int
    match_id: int


_ROW_COLUMNS = "e.id, e.external_id, e.external_number, e.date, e.role, e.duration_ms, a.id"
_MATCH_COLUMNS = "e.id, a.id"


def eligible_entry_rows(last_day: dt.date, *, entry_ids: list[int] | None = None) -> list[EntryRow]:
    """Every entry a run for the period ending `last_day` may bill: billable, approved, not yet
    billed, dated on or before `last_day`, matched to a Signed T&M or Prepaid Hours agreement
    covering its date, without an open or written-off blocking flag (a released one does not
    block). `match_id` is that agreement. `entry_ids` restricts the check to those entries (a
    group re-checking its slice under the run lock). One query."""
    return [EntryRow(*row) for row in _eligible(last_day, entry_ids, _ROW_COLUMNS)]


def eligible_entry_matches(last_day: dt.date) -> list[tuple[int, int]]:
    """(entry id, match id) of `eligible_entry_rows(last_day)`, the same query reading two
    columns (the run's snapshot partitions entries by group; each batch reads its rows)."""
    return _eligible(last_day, None, _MATCH_COLUMNS)


def _eligible(last_day: dt.date, entry_ids: list[int] | None, columns: str) -> list[tuple]:
    if entry_ids is not None and not entry_ids:
        return []
    codes = sorted(Flag.BLOCKING_CODES)
    statuses = sorted(Flag.BLOCKING_STATUSES)
    only_ids = ""
    params: list = [*BILLED_TYPES, True, True, last_day, *codes, *statuses]
    if entry_ids is not None:
        only_ids = "AND e.id = ANY(%s)"
        params.append(list(entry_ids))
    query = _ELIGIBLE_SQL.format(
        columns=columns,
        entry=TimeEntry._meta.db_table,
        agreement=Agreement._meta.db_table,
        billing=EntryBilling._meta.db_table,
        flag=Flag._meta.db_table,
        match=match_sql("e", "a"),
        codes=", ".join(["%s"] * len(codes)),
        statuses=", ".join(["%s"] * len(statuses)),
        only_ids=only_ids,
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    result: list[tuple] = []
    last_id = None
    for row in rows:
        if row[0] == last_id:  # two matches cannot happen (the import refuses overlaps): first wins
            continue
        last_id = row[0]
        result.append(row)
    return result


def eligible_match(
    entry: Any,
    *,
    billed: bool,
    flags: Iterable[Flag],
    agreements: Iterable[Any],
    last_day: dt.date,
) -> int | None:
    """The Python form of `eligible_entry_rows`, for one entry: the id of the agreement a run for
    the period ending `last_day` bills `entry` under, or None when the run may not bill it.

    `entry` has `billable`, `approved`, `date` and `project_code`; `billed`: it has a billing row;
    `flags`: its flags; `agreements`: candidates with `id`, `project_code`, `stage`,
    `agreement_type`, `start_date`, `end_date` (models or any objects with those attributes).
    Two matches cannot happen (the import refuses overlaps); if they did, the smallest id wins,
    as in the SQL form."""
    if billed or not (entry.billable and entry.approved and entry.date <= last_day):
        return None
    if any(f.blocks_billing for f in flags):
        return None
    matched = [
        a.id
        for a in agreements
        if a.agreement_type in BILLED_TYPES
        and matches(
            project_code=a.project_code,
            stage=a.stage,
            start_date=a.start_date,
            end_date=a.end_date,
            entry_code=entry.project_code,
            entry_date=entry.date,
        )
    ]
    return min(matched, default=None)


def entry_billing_q(*, invoiced: bool) -> Q:
    """TimeEntry filter, for timesheets' KPI tiles through `core.entry_billing`: invoiced = billed
    on a final invoice or drawn from a prepaid block (no invoice); not invoiced = no billing, or
    only on a draft. (Rejecting a draft deletes its billings: no entry stays on a rejected one.)"""
    if invoiced:
        return Q(billing__invoice__status__in=sorted(Invoice.FINAL_STATUSES)) | Q(
            billing__isnull=False, billing__invoice__isnull=True
        )
    return Q(billing__isnull=True) | Q(billing__invoice__status=Invoice.Status.DRAFT)


def milestone_billed_q() -> Q:
    """Milestone filter, for agreements' import checks through `core.milestone_billing`: billed,
    on a draft or a final invoice (rejecting a draft deletes its billings)."""
    return Q(billing__isnull=False)


def due_milestones(last_day: dt.date) -> QuerySet[Milestone]:
    """Unbilled milestones of Signed Fixed Fee agreements that are due by `last_day`."""
    return Milestone.objects.filter(
        agreement__stage=Agreement.Stage.SIGNED,
        agreement__agreement_type=Agreement.Type.FIXED_FEE,
        billing__isnull=True,
    ).filter(
        Q(due_date__isnull=False, due_date__lte=last_day)
        | Q(due_date__isnull=True, completed_on__isnull=False, completed_on__lte=last_day)
    )


def due_blocks(last_day: dt.date) -> QuerySet[Agreement]:
    """Signed Prepaid Hours agreements whose block is not billed and that started by `last_day`."""
    return Agreement.objects.filter(
        stage=Agreement.Stage.SIGNED,
        agreement_type=Agreement.Type.PREPAID_HOURS,
        start_date__lte=last_day,
        amount__isnull=False,
        block_billing__isnull=True,
    )
