"""Reconciliation (SPEC section 2): every flag rule as a few set-based SQL statements.

This is the one documented place with raw SQL for the rules. Each step fills the session's TEMP
table `recon_flag` with the flags the data calls for as of D (one row per (code, subject)); the
last step applies that set to `timesheets_flag` in one transaction:

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

The rule steps only read, so they run outside the apply transaction (progress is committed after
each step and the dashboard sees it); the apply step holds an advisory lock that flag actions
also take (shared), so a release or write-off never interleaves with an apply.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agreements.matching import match_sql
from agreements.models import Agreement, RoleRate
from agreements.pricing import role_key_sql, rounded_minutes_sql
from core import locks
from timesheets.models import Employee, Flag, TimeEntry
from timesheets.ordering import entry_id_order_sql, entry_order_sql

DAILY_LIMIT_MS = 12 * 3_600_000
UNAPPROVED_AFTER_DAYS = 7
NOT_STARTED_AFTER_DAYS = 14
# Codes this module raises and resolves. CHANGED_AFTER_INVOICING belongs to the importer.
RECONCILED_CODES = tuple(sorted(c for c in Flag.Code.values if c != "CHANGED_AFTER_INVOICING"))
# A written-off flag takes its entry out of OVER_CAP running totals ("less written-off ones"),
# except CHANGED_AFTER_INVOICING: that entry is already billed, so its hours still count.
_NOT_EXCLUDING_WRITE_OFF = "CHANGED_AFTER_INVOICING"
_TEMP_TABLES = ("recon_flag", "recon_dup", "recon_dupkey", "recon_change")
_WORK_MEM = "128MB"  # per sort/hash node, for this session only while a run is going

Progress = Callable[[str, int, int], None]
log = logging.getLogger(__name__)


@dataclass
class ReconciliationResult:
    as_of: dt.date
    opened: int = 0
    resolved: int = 0
    updated: int = 0
    open_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_code.values())


def advisory_lock(*, shared: bool) -> None:
    """Serialise the apply step against flag actions.

    Must be called inside a transaction: the lock is released at commit or rollback."""
    locks.xact_lock(locks.RECONCILIATION_APPLY, shared=shared)


class _Sql:
    """SQL text for one run."""

    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        self.t = {
            "te": TimeEntry._meta.db_table,
            "emp": Employee._meta.db_table,
            "agr": Agreement._meta.db_table,
            "rr": RoleRate._meta.db_table,
            "flag": Flag._meta.db_table,
            "hflag": Flag.history.model._meta.db_table,
        }

    # -- formatting ----------------------------------------------------------------------------
    @staticmethod
    def fmt2(expr: str) -> str:
        """A number as text with 2 decimals, for the words of `detail`."""
        return f"to_char(({expr}), 'FM9999999990.00')"

    @staticmethod
    def dtext(expr: str) -> str:
        """A date as YYYY-MM-DD text."""
        return f"to_char(({expr}), 'YYYY-MM-DD')"

    def date(self, value: dt.date) -> Any:
        return connection.ops.adapt_datefield_value(value)

    def now(self, value: dt.datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(value)

    # -- shared fragments ----------------------------------------------------------------------

    @staticmethod
    def hours(ms: str) -> str:
        return f"ROUND(({ms}) / 3600000.0, 4)"

    def h2(self, ms: str) -> str:
        return self.fmt2(f"({ms}) / 3600000.0")

    def insert_flags(self, select: str) -> str:
        """Insert the rows of `select` (columns in recon_flag order) into the TEMP table.

        ON CONFLICT keeps the first row per (code, subject) should data break the
        one-matching-agreement invariant."""
        return (
            "INSERT INTO recon_flag (code, subject, entry_id, agreement_id, employee_id, day, "
            "project_code, hours, detail) "
            f"SELECT * FROM ({select}) AS s WHERE true ON CONFLICT (code, subject) DO NOTHING"
        )


# ---------------------------------------------------------------------------------------------
# Rule steps: each one statement (two for duplicates) over all entries.
# ---------------------------------------------------------------------------------------------

_NULL_ID = "CAST(NULL AS bigint)"
_NULL_DATE = "CAST(NULL AS date)"


def _step_setup(cur: Any, q: _Sql) -> None:
    for name in _TEMP_TABLES:
        cur.execute(f"DROP TABLE IF EXISTS {name}", [])
    # Session settings for the big aggregates and sorts; reset when the run ends.
    cur.execute(f"SET work_mem = '{_WORK_MEM}'")
    cur.execute("SET jit = off")
    cur.execute(
        "CREATE TEMP TABLE recon_flag (code varchar(32) NOT NULL, subject varchar(160) NOT NULL, "
        "entry_id bigint, agreement_id bigint, employee_id bigint, day date, "
        "project_code varchar(64) NOT NULL, hours numeric(14, 4), detail text NOT NULL, "
        "is_new boolean NOT NULL DEFAULT false, PRIMARY KEY (code, subject))"
    )
    cur.execute(
        "CREATE TEMP TABLE recon_dup (entry_id bigint PRIMARY KEY, first_id bigint NOT NULL)", []
    )
    cur.execute(
        "CREATE TEMP TABLE recon_dupkey (employee_id bigint NOT NULL, date date NOT NULL, "
        "project_code varchar(64) NOT NULL, duration_ms integer NOT NULL, notes_key text NOT NULL)"
    )
    cur.execute(
        "CREATE TEMP TABLE recon_change (flag_id bigint PRIMARY KEY, kind varchar(1) NOT NULL)"
    )


def _step_unmatched(cur: Any, q: _Sql) -> None:
    t = q.t
    entry_words = f"' (' || {q.h2('e.duration_ms')} || ' h on ' || {q.dtext('e.date')} || ')'"
    # NO_AGREEMENT: no agreement of any stage has the Project Code.
    cur.execute(
        q.insert_flags(f"""
        SELECT 'NO_AGREEMENT', e.external_id, e.id, {_NULL_ID}, e.employee_id, e.date,
               e.project_code, {q.hours("e.duration_ms")},
               'No agreement of any stage has project code ' || e.project_code
               || ', so this billable entry' || {entry_words} || ' cannot be billed.'
        FROM {t["te"]} e
        WHERE e.billable
          AND NOT EXISTS (SELECT 1 FROM {t["agr"]} a WHERE a.project_code = e.project_code)
    """)
    )
    # AGREEMENT_NOT_SIGNED: the code exists only on Draft or Cancelled agreements.
    cur.execute(
        q.insert_flags(f"""
        WITH unsigned AS (
            SELECT project_code, MIN(external_id) AS first_ext, COUNT(*) AS n
            FROM {t["agr"]}
            GROUP BY project_code
            HAVING SUM(CASE WHEN stage = 'signed' THEN 1 ELSE 0 END) = 0
        )
        SELECT 'AGREEMENT_NOT_SIGNED', e.external_id, e.id, a.id, e.employee_id, e.date,
               e.project_code, {q.hours("e.duration_ms")},
               'No Signed agreement has project code ' || e.project_code || '; agreement '
               || a.external_id || ' is '
               || CASE a.stage WHEN 'draft' THEN 'Draft' ELSE 'Cancelled' END
               || CASE WHEN u.n > 1 THEN ' (and ' || (u.n - 1) || ' more not signed)' ELSE '' END
               || '. Billable entry' || {entry_words} || '.'
        FROM {t["te"]} e
        JOIN unsigned u ON u.project_code = e.project_code
        JOIN {t["agr"]} a ON a.external_id = u.first_ext
        WHERE e.billable
    """)
    )
    # OUTSIDE_AGREEMENT_DATES: a Signed agreement has the code, none covers the Date. The flag
    # names the nearest one: the latest starting on or before the Date, else the earliest.
    cur.execute(
        q.insert_flags(f"""
        WITH cand AS (
            SELECT e.id AS entry_id, e.external_id, e.employee_id, e.date, e.project_code,
                   e.duration_ms, a.id AS agreement_id, a.external_id AS agr_ext,
                   a.start_date, a.end_date,
                   ROW_NUMBER() OVER (
                       PARTITION BY e.id
                       ORDER BY CASE WHEN a.start_date <= e.date THEN a.start_date END
                                DESC NULLS LAST, a.start_date
                   ) AS rn
            FROM {t["te"]} e
            JOIN {t["agr"]} a ON a.project_code = e.project_code AND a.stage = 'signed'
            WHERE e.billable
              AND NOT EXISTS (SELECT 1 FROM {t["agr"]} m WHERE {match_sql("e", "m")})
        )
        SELECT 'OUTSIDE_AGREEMENT_DATES', c.external_id, c.entry_id, c.agreement_id,
               c.employee_id, c.date, c.project_code, {q.hours("c.duration_ms")},
               'Dated ' || {q.dtext("c.date")} || ', outside the dates of Signed agreement '
               || c.agr_ext || ' (' || {q.dtext("c.start_date")} || ' to '
               || COALESCE({q.dtext("c.end_date")}, 'open end') || '); no Signed agreement for '
               || c.project_code || ' covers that date. Billable entry of '
               || {q.h2("c.duration_ms")} || ' h.'
        FROM cand c
        WHERE c.rn = 1
    """)
    )


def _step_missing_rate(cur: Any, q: _Sql) -> None:
    t = q.t
    # Matched T&M or Prepaid Hours (block and overage alike), no role rate for the entry's Role
    # (case-insensitive) and no default Hourly Rate. Fixed Fee is never priced per hour.
    cur.execute(
        q.insert_flags(f"""
        SELECT 'MISSING_RATE', e.external_id, e.id, a.id, e.employee_id, e.date, e.project_code,
               {q.hours("e.duration_ms")},
               'Agreement ' || a.external_id || ' ('
               || CASE a.agreement_type WHEN 'prepaid_hours' THEN 'Prepaid Hours'
                  ELSE 'Time and Materials' END
               || ') has no rate for '
               || CASE WHEN TRIM(e.role) = '' THEN 'an entry without a Role'
                  ELSE 'role "' || TRIM(e.role) || '"' END
               || ' and no default Hourly Rate.'
        FROM {t["te"]} e
        JOIN {t["agr"]} a ON {match_sql()}
        WHERE e.billable
          AND a.agreement_type IN ('time_and_materials', 'prepaid_hours')
          AND a.hourly_rate IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM {t["rr"]} r
              WHERE r.agreement_id = a.id AND r.role_key = {role_key_sql("e.role")}
          )
    """)
    )


def _step_duplicates(cur: Any, q: _Sql) -> None:
    t = q.t
    key = "e.employee_id, e.date, e.project_code, e.duration_ms, LOWER(TRIM(e.notes))"
    # Only groups with more than one entry are sorted; the first entry in Entry ID order of each
    # group is the original, every later billable one is a duplicate of it. The comparison is
    # against all entries (billable or not); only billable entries are flagged.
    # Keys shared by more than one entry, computed once (one hash aggregate over all entries).
    cur.execute(f"""
        INSERT INTO recon_dupkey (employee_id, date, project_code, duration_ms, notes_key)
        SELECT {key} FROM {t["te"]} e
        WHERE true
        GROUP BY {key}
        HAVING COUNT(*) > 1
    """)
    cur.execute("ANALYZE recon_dupkey")
    cur.execute(f"""
        INSERT INTO recon_dup (entry_id, first_id)
        SELECT r.id, r.first_id FROM (
            SELECT e.id, e.billable,
                   ROW_NUMBER() OVER w AS rn,
                   FIRST_VALUE(e.id) OVER w AS first_id
            FROM {t["te"]} e
            JOIN recon_dupkey g
              ON g.employee_id = e.employee_id AND g.date = e.date
             AND g.project_code = e.project_code AND g.duration_ms = e.duration_ms
             AND g.notes_key = LOWER(TRIM(e.notes))
            WINDOW w AS (PARTITION BY {key} ORDER BY {entry_id_order_sql("e")}
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ) r
        WHERE r.rn > 1 AND r.billable
    """)
    cur.execute("ANALYZE recon_dup", [])
    cur.execute(
        q.insert_flags(f"""
        SELECT 'DUPLICATE_ENTRY', e.external_id, e.id, a.id, e.employee_id, e.date,
               e.project_code, {q.hours("e.duration_ms")},
               'Same employee ' || emp.external_id || ', date ' || {q.dtext("e.date")}
               || ', project ' || e.project_code || ', hours ' || {q.h2("e.duration_ms")}
               || ' and notes as entry ' || f.external_id || ', which has a smaller Entry ID.'
        FROM recon_dup d
        JOIN {t["te"]} e ON e.id = d.entry_id
        JOIN {t["te"]} f ON f.id = d.first_id
        JOIN {t["emp"]} emp ON emp.id = e.employee_id
        LEFT JOIN {t["agr"]} a ON {match_sql()}
        WHERE true
    """)
    )


def _step_over_cap(cur: Any, q: _Sql) -> None:
    t = q.t
    rounded = rounded_minutes_sql("e.duration_ms", "a.billing_increment")
    # Running total of rounded minutes per T&M agreement with a cap, in (Date, Entry ID) order,
    # over its billable entries less written-off ones and unreleased duplicates (a duplicate by
    # the rule now, whose DUPLICATE_ENTRY flag is not released). Integer minutes throughout.
    cur.execute(
        q.insert_flags(f"""
        WITH running AS (
            SELECT e.id, e.external_id, e.employee_id, e.date, e.project_code, e.duration_ms,
                   a.id AS agreement_id, a.external_id AS agr_ext,
                   a.not_to_exceed_hours AS cap_hours, a.billing_increment,
                   SUM({rounded}) OVER (
                       PARTITION BY a.id ORDER BY {entry_order_sql("e")}
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                   ) AS total_minutes
            FROM {t["te"]} e
            JOIN {t["agr"]} a ON {match_sql()}
            WHERE e.billable
              AND a.agreement_type = 'time_and_materials'
              AND a.not_to_exceed_hours IS NOT NULL
              AND NOT EXISTS (
                  SELECT 1 FROM {t["flag"]} f
                  WHERE f.entry_id = e.id AND f.status = 'written_off'
                    AND f.code <> '{_NOT_EXCLUDING_WRITE_OFF}'
              )
              AND NOT (
                  EXISTS (SELECT 1 FROM recon_dup d WHERE d.entry_id = e.id)
                  AND NOT EXISTS (
                      SELECT 1 FROM {t["flag"]} f
                      WHERE f.entry_id = e.id AND f.code = 'DUPLICATE_ENTRY'
                        AND f.status = 'released'
                  )
              )
        )
        SELECT 'OVER_CAP', r.external_id, r.id, r.agreement_id, r.employee_id, r.date,
               r.project_code, {q.hours("r.duration_ms")},
               'Agreement ' || r.agr_ext || ' has a Not To Exceed cap of '
               || {q.fmt2("r.cap_hours")} || ' h; with this entry of '
               || {q.h2("r.duration_ms")} || ' h on ' || {q.dtext("r.date")}
               || ' the running total is ' || {q.fmt2("r.total_minutes / 60.0")}
               || ' h (each entry rounded up to ' || r.billing_increment || ' min), over the cap.'
        FROM running r
        WHERE r.total_minutes > r.cap_hours * 60
    """)
    )


def _step_unapproved(cur: Any, q: _Sql) -> None:
    t = q.t
    cutoff = q.as_of - dt.timedelta(days=UNAPPROVED_AFTER_DAYS)
    # Billable entries only (SPEC 2 lists it among entry flags, no exception stated).
    cur.execute(
        q.insert_flags(f"""
        SELECT 'UNAPPROVED_TIME', e.external_id, e.id, a.id, e.employee_id, e.date,
               e.project_code, {q.hours("e.duration_ms")},
               'Not approved in the time-tracking system; billable entry of '
               || {q.h2("e.duration_ms")} || ' h dated ' || {q.dtext("e.date")}
               || ' is 7 or more days old. Unapproved time is never billed.'
        FROM {t["te"]} e
        LEFT JOIN {t["agr"]} a ON {match_sql()}
        WHERE e.billable AND NOT e.approved AND e.date <= %s
    """),
        [q.date(cutoff)],
    )


def _step_daily_hours(cur: Any, q: _Sql) -> None:
    t = q.t
    # All hours (billable or not) per employee and day; subject EMPLOYEE_ID@YYYY-MM-DD.
    cur.execute(
        q.insert_flags(f"""
        SELECT 'EXCESSIVE_DAILY_HOURS', emp.external_id || '@' || {q.dtext("d.date")},
               {_NULL_ID}, {_NULL_ID}, d.employee_id, d.date, '', {q.hours("d.total_ms")},
               'Employee ' || emp.external_id
               || CASE WHEN emp.name <> '' THEN ' (' || emp.name || ')' ELSE '' END
               || ' logged ' || {q.h2("d.total_ms")} || ' h on ' || {q.dtext("d.date")}
               || ' in ' || d.n || CASE WHEN d.n = 1 THEN ' entry' ELSE ' entries' END
               || ', over the 12 h daily limit.'
        FROM (
            SELECT e.employee_id, e.date, SUM(e.duration_ms) AS total_ms, COUNT(*) AS n
            FROM {t["te"]} e
            GROUP BY e.employee_id, e.date
            HAVING SUM(e.duration_ms) > {DAILY_LIMIT_MS}
        ) d
        JOIN {t["emp"]} emp ON emp.id = d.employee_id
        WHERE true
    """)
    )


def _step_agreements(cur: Any, q: _Sql) -> None:
    t = q.t
    start_cutoff = q.as_of - dt.timedelta(days=NOT_STARTED_AFTER_DAYS)
    delivered = f"""
        SELECT a.id, a.external_id, a.project_code, a.start_date, a.end_date, a.hours_sold,
               COALESCE(SUM(e.duration_ms), 0) AS delivered_ms
        FROM {t["agr"]} a
        LEFT JOIN {t["te"]} e ON {match_sql()}
        WHERE a.stage = 'signed'
        GROUP BY a.id, a.external_id, a.project_code, a.start_date, a.end_date, a.hours_sold
    """
    # Delivered hours = raw hours of all matched entries, billable or not. `hours` on the flag is
    # what is sold and not delivered (NULL when no Hours Sold); `day` is the date at issue.
    sold = (
        "CASE WHEN d.hours_sold IS NULL THEN '' ELSE ' (' || "
        + q.fmt2("d.hours_sold")
        + " || ' h sold)' END"
    )
    cur.execute(
        q.insert_flags(f"""
        SELECT 'NOT_STARTED', d.external_id, {_NULL_ID}, d.id, {_NULL_ID}, d.start_date,
               d.project_code, ROUND(d.hours_sold, 4),
               'Signed agreement ' || d.external_id || ' for ' || d.project_code
               || ' started ' || {q.dtext("d.start_date")}
               || ', 14 or more days ago, and no hours are delivered' || {sold}
               || ': sold, not yet delivered.'
        FROM ({delivered}) d
        WHERE d.start_date <= %s AND d.delivered_ms = 0
    """),
        [q.date(start_cutoff)],
    )
    cur.execute(
        q.insert_flags(f"""
        SELECT 'UNDELIVERED_AT_END', d.external_id, {_NULL_ID}, d.id, {_NULL_ID}, d.end_date,
               d.project_code, ROUND(d.hours_sold - d.delivered_ms / 3600000.0, 4),
               'Signed agreement ' || d.external_id || ' for ' || d.project_code
               || ' ended ' || {q.dtext("d.end_date")} || ' with '
               || {q.h2("d.delivered_ms")} || ' of ' || {q.fmt2("d.hours_sold")}
               || ' h sold delivered; '
               || {q.fmt2("d.hours_sold - d.delivered_ms / 3600000.0")}
               || ' h were never delivered.'
        FROM ({delivered}) d
        WHERE d.end_date < %s AND d.hours_sold > 0 AND d.delivered_ms < d.hours_sold * 3600000
    """),
        [q.date(q.as_of)],
    )


_FLAG_COLS = (
    "code, subject, status, entry_id, agreement_id, employee_id, day, project_code, hours, "
    "detail, raised_at, last_seen_as_of, resolved_at, actioned_by_id, actioned_at, reason"
)


def _step_apply(cur: Any, q: _Sql, user_id: int | None, result: ReconciliationResult) -> None:
    t = q.t
    now = timezone.now()
    p_now, p_as_of = q.now(now), q.date(q.as_of)
    codes = ", ".join(f"'{c}'" for c in RECONCILED_CODES)
    cur.execute("ANALYZE recon_flag", [])
    advisory_lock(shared=False)
    same = "f.code = t.code AND f.subject = t.subject"
    # 1. New flags.
    cur.execute(f"""
        UPDATE recon_flag SET is_new = true
        WHERE NOT EXISTS (SELECT 1 FROM {t["flag"]} f
                          WHERE f.code = recon_flag.code AND f.subject = recon_flag.subject)
    """)
    cur.execute(
        f"""
        INSERT INTO {t["flag"]} ({_FLAG_COLS})
        SELECT t.code, t.subject, 'open', t.entry_id, t.agreement_id, t.employee_id, t.day,
               t.project_code, t.hours, t.detail, %s, %s, NULL, NULL, NULL, ''
        FROM recon_flag t WHERE t.is_new
    """,
        [p_now, p_as_of],
    )
    cur.execute(f"""
        INSERT INTO recon_change (flag_id, kind)
        SELECT f.id, 'n' FROM recon_flag t JOIN {t["flag"]} f ON {same} WHERE t.is_new
    """)
    # 2. Resolved flags whose cause is back: re-open. 3. Open ones whose words changed.
    cur.execute(f"""
        INSERT INTO recon_change (flag_id, kind)
        SELECT f.id, CASE WHEN f.status = 'resolved' THEN 'r' ELSE 'u' END
        FROM recon_flag t JOIN {t["flag"]} f ON {same}
        WHERE NOT t.is_new AND (
            f.status = 'resolved'
            OR (f.status = 'open' AND (
                f.detail <> t.detail OR f.hours IS DISTINCT FROM t.hours
                OR f.entry_id IS DISTINCT FROM t.entry_id
                OR f.agreement_id IS DISTINCT FROM t.agreement_id
                OR f.employee_id IS DISTINCT FROM t.employee_id
                OR f.day IS DISTINCT FROM t.day OR f.project_code <> t.project_code))
        )
    """)
    cur.execute(
        f"""
        UPDATE {t["flag"]}
        SET status = 'open', resolved_at = NULL, detail = t.detail, hours = t.hours,
            entry_id = t.entry_id, agreement_id = t.agreement_id, employee_id = t.employee_id,
            day = t.day, project_code = t.project_code, last_seen_as_of = %s
        FROM recon_flag t, recon_change c
        WHERE {t["flag"]}.code = t.code AND {t["flag"]}.subject = t.subject
          AND c.flag_id = {t["flag"]}.id AND c.kind IN ('r', 'u')
          AND {t["flag"]}.status IN ('open', 'resolved')
    """,
        [p_as_of],
    )
    # 4. Open flags no longer caused: resolved.
    cur.execute(f"""
        INSERT INTO recon_change (flag_id, kind)
        SELECT f.id, 'x' FROM {t["flag"]} f
        WHERE f.status = 'open' AND f.code IN ({codes})
          AND NOT EXISTS (SELECT 1 FROM recon_flag t WHERE {same})
    """)
    cur.execute(
        f"""
        UPDATE {t["flag"]} SET status = 'resolved', resolved_at = %s
        WHERE status = 'open'
          AND id IN (SELECT flag_id FROM recon_change WHERE kind = 'x')
    """,
        [p_now],
    )
    # 5. One history row per flag changed, with the user who started the run.
    cur.execute(
        f"""
        INSERT INTO {t["hflag"]} (id, code, subject, status, day, project_code, hours, detail,
            raised_at, last_seen_as_of, resolved_at, actioned_at, reason, actioned_by_id,
            agreement_id, employee_id, entry_id, history_date, history_change_reason,
            history_type, history_user_id)
        SELECT f.id, f.code, f.subject, f.status, f.day, f.project_code, f.hours, f.detail,
               f.raised_at, f.last_seen_as_of, f.resolved_at, f.actioned_at, f.reason,
               f.actioned_by_id, f.agreement_id, f.employee_id, f.entry_id, %s, %s,
               CASE WHEN c.kind = 'n' THEN '+' ELSE '~' END, %s
        FROM recon_change c JOIN {t["flag"]} f ON f.id = c.flag_id
        WHERE true
    """,
        [p_now, f"Reconciliation as of {q.as_of.isoformat()}", user_id],
    )
    cur.execute("SELECT kind, COUNT(*) FROM recon_change GROUP BY kind", [])
    kinds = dict(cur.fetchall())
    result.opened = kinds.get("n", 0) + kinds.get("r", 0)
    result.updated = kinds.get("u", 0)
    result.resolved = kinds.get("x", 0)
    cur.execute(f"SELECT code, COUNT(*) FROM {t['flag']} WHERE status = 'open' GROUP BY code", [])
    result.open_by_code = dict(sorted(cur.fetchall()))


class _Cursor:
    """Always passes a params list, so '%' in SQL is written '%%' on every backend."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.cursor.execute(sql, list(params or []))

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()


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
    """Bring every flag up to date as of `as_of`. Idempotent; see the module docstring."""
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
