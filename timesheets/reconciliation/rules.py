"""The rule steps of a reconciliation (SPEC 2): each a few set-based statements over all
entries, filling the TEMP table `recon_flag` with the flags the data calls for as of the run's date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from agreements.matching import match_sql
from agreements.pricing import has_rate_sql, rounded_minutes_sql
from timesheets.ordering import entry_id_order_sql, entry_order_sql
from timesheets.reconciliation.sql import (
    _NOT_EXCLUDING_WRITE_OFF,
    _TEMP_TABLES,
    _WORK_MEM,
    DAILY_LIMIT_MS,
    NOT_STARTED_AFTER_DAYS,
    UNAPPROVED_AFTER_DAYS,
    _Sql,
)

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
    _flag_no_agreement(cur, q)
    _flag_not_signed(cur, q)
    _flag_outside_dates(cur, q)


def _entry_words(q: _Sql) -> str:
    """SQL text: " (<hours> h on <date>)" of entry alias e."""
    return f"' (' || {q.h2('e.duration_ms')} || ' h on ' || {q.dtext('e.date')} || ')'"


def _flag_no_agreement(cur: Any, q: _Sql) -> None:
    """NO_AGREEMENT: no agreement of any stage has the Project Code."""
    t, entry_words = q.t, _entry_words(q)
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


def _flag_not_signed(cur: Any, q: _Sql) -> None:
    """AGREEMENT_NOT_SIGNED: the code exists only on Draft or Cancelled agreements."""
    t, entry_words = q.t, _entry_words(q)
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


def _flag_outside_dates(cur: Any, q: _Sql) -> None:
    """OUTSIDE_AGREEMENT_DATES: a Signed agreement has the code, none covers the Date. The flag
    names the nearest one: the latest starting on or before the Date, else the earliest."""
    t = q.t
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
          AND NOT {has_rate_sql("e", "a", t["rr"])}
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
