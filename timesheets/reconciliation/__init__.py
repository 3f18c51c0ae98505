"""Reconciliation (SPEC section 2): every flag rule as a few set-based SQL statements.

This package is the one documented place with raw SQL for the rules: the rule steps in rules.py,
the apply step in apply.py, shared SQL fragments and constants in sql.py. Each rule step fills
the session's TEMP table `recon_flag` with the flags the data calls for as of the run's date
(one row per (code, subject)); the apply step writes that set to `timesheets_flag` in one
transaction:

- a (code, subject) not yet flagged is inserted as `open`;
- a `resolved` flag whose cause is back is re-opened (same row);
- an `open` flag still caused gets its detail/hours refreshed when they changed;
- an `open` flag no longer caused is `resolved` (except CHANGED_AFTER_INVOICING, which the
  time-entry importer raises and only a manager's action closes);
- `released` and `written_off` flags are never touched.

History rows for every flag changed are written with one INSERT ... SELECT, with the user who
started the run (None for the nightly job).

"Smaller Entry ID" and "(Date, Entry ID) order" are SPEC 5's order, written once in
timesheets.ordering (whole numbers first by value, then the others as text).

The rule steps read the business tables and write only the session's TEMP tables, so they run
outside the apply transaction (progress is committed after each step and the dashboard sees it); the apply step holds an advisory lock that flag actions
also take (shared), so a release or write-off never interleaves with an apply.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, connection, transaction

from timesheets.reconciliation.apply import _step_apply
from timesheets.reconciliation.rules import (
    _step_agreements,
    _step_daily_hours,
    _step_duplicates,
    _step_missing_rate,
    _step_over_cap,
    _step_setup,
    _step_unapproved,
    _step_unmatched,
)
from timesheets.reconciliation.sql import (
    _TEMP_TABLES,
    DAILY_LIMIT_MS,
    NOT_STARTED_AFTER_DAYS,
    RECONCILED_CODES,
    UNAPPROVED_AFTER_DAYS,
    Progress,
    ReconciliationResult,
    _Cursor,
    _Sql,
    advisory_lock,
    log,
)
from timesheets.tally import tally_compact

__all__ = [
    "DAILY_LIMIT_MS",
    "NOT_STARTED_AFTER_DAYS",
    "RECONCILED_CODES",
    "STEPS",
    "STEPS_TOTAL",
    "UNAPPROVED_AFTER_DAYS",
    "ReconciliationResult",
    "advisory_lock",
    "reconcile",
]

STEPS: tuple[tuple[str, Callable[[Any, _Sql], Any]], ...] = (
    ("Preparing", _step_setup),
    ("Entries without a matching agreement", _step_unmatched),
    ("Missing rates", _step_missing_rate),
    ("Duplicate entries", _step_duplicates),
    ("Hours over caps", _step_over_cap),
    ("Unapproved time", _step_unapproved),
    ("Excessive daily hours", _step_daily_hours),
    ("Agreements not started or undelivered", _step_agreements),
)
STEPS_TOTAL = len(STEPS) + 1  # + applying the flags


def reconcile(
    *, as_of: dt.date, user_id: int | None = None, progress: Progress | None = None
) -> ReconciliationResult:
    """Bring every flag up to date as of `as_of`. Idempotent; see the package docstring."""
    q = _Sql(as_of)
    result = ReconciliationResult(as_of=as_of)
    report = progress or (lambda step, done, total: None)
    try:
        with connection.cursor() as raw:
            cur = _Cursor(raw)
            for done, (name, step) in enumerate(STEPS):
                report(name, done, STEPS_TOTAL)
                started = time.monotonic()
                step(cur, q)
                log.debug("reconcile %s: %s in %.2f s", as_of, name, time.monotonic() - started)
            report("Applying flags", len(STEPS), STEPS_TOTAL)
            started = time.monotonic()
            with transaction.atomic():
                _step_apply(cur, q, user_id, result)
                tally_compact()  # the day's delta rows folded into one per (status, code)
            log.debug("reconcile %s: applied in %.2f s", as_of, time.monotonic() - started)
    finally:
        try:
            with connection.cursor() as cur:
                for name in _TEMP_TABLES:
                    cur.execute(f"DROP TABLE IF EXISTS {name}", [])
                cur.execute("RESET work_mem")  # set by _step_setup for this run only
                cur.execute("RESET jit")
        except DatabaseError:
            # Inside a caller's transaction that already failed: its rollback drops them.
            pass
    report("Done", STEPS_TOTAL, STEPS_TOTAL)
    return result
