"""The apply step of a reconciliation: the flag set of `recon_flag` written to `timesheets_flag`
in one transaction, with one history row per flag changed (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from timesheets.reconciliation.sql import (
    RECONCILED_CODES,
    ReconciliationResult,
    _Sql,
    advisory_lock,
)

_FLAG_COLS = (
    "code, subject, status, entry_id, agreement_id, employee_id, day, project_code, hours, "
    "detail, raised_at, last_seen_as_of, resolved_at, actioned_by_id, actioned_at, reason"
)
_SAME = "f.code = t.code AND f.subject = t.subject"


def _step_apply(cur: Any, q: _Sql, user_id: int | None, result: ReconciliationResult) -> None:
    t = q.t
    now = timezone.now()
    p_now, p_as_of = q.now(now), q.date(q.as_of)
    cur.execute("ANALYZE recon_flag", [])
    advisory_lock(shared=False)
    # recon_change collects what changed (n new, r re-opened, u updated, x resolved) for the
    # history rows and the counts.
    _insert_new(cur, t, p_now, p_as_of)
    _reopen_and_update(cur, t, p_as_of)
    _resolve_gone(cur, t, p_now)
    reason = f"Reconciliation as of {q.as_of.isoformat()}"
    _write_history(cur, t, p_now, reason, user_id)
    _count(cur, t, result)


def _insert_new(cur: Any, t: Mapping[str, str], p_now: Any, p_as_of: Any) -> None:
    """1. New flags: opened."""
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
        SELECT f.id, 'n' FROM recon_flag t JOIN {t["flag"]} f ON {_SAME} WHERE t.is_new
    """)


def _reopen_and_update(cur: Any, t: Mapping[str, str], p_as_of: Any) -> None:
    """2. Resolved flags whose cause is back: re-opened. 3. Open ones whose words changed."""
    cur.execute(f"""
        INSERT INTO recon_change (flag_id, kind)
        SELECT f.id, CASE WHEN f.status = 'resolved' THEN 'r' ELSE 'u' END
        FROM recon_flag t JOIN {t["flag"]} f ON {_SAME}
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


def _resolve_gone(cur: Any, t: Mapping[str, str], p_now: Any) -> None:
    """4. Open flags no longer caused: resolved."""
    codes = ", ".join(f"'{c}'" for c in RECONCILED_CODES)
    cur.execute(f"""
        INSERT INTO recon_change (flag_id, kind)
        SELECT f.id, 'x' FROM {t["flag"]} f
        WHERE f.status = 'open' AND f.code IN ({codes})
          AND NOT EXISTS (SELECT 1 FROM recon_flag t WHERE {_SAME})
    """)
    cur.execute(
        f"""
        UPDATE {t["flag"]} SET status = 'resolved', resolved_at = %s
        WHERE status = 'open'
          AND id IN (SELECT flag_id FROM recon_change WHERE kind = 'x')
    """,
        [p_now],
    )


def _write_history(
    cur: Any, t: Mapping[str, str], p_now: Any, reason: str, user_id: int | None
) -> None:
    """5. One history row per flag changed, with the user who started the run."""
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
        [p_now, reason, user_id],
    )


def _count(cur: Any, t: Mapping[str, str], result: ReconciliationResult) -> None:
    cur.execute("SELECT kind, COUNT(*) FROM recon_change GROUP BY kind", [])
    kinds = dict(cur.fetchall())
    result.opened = kinds.get("n", 0) + kinds.get("r", 0)
    result.updated = kinds.get("u", 0)
    result.resolved = kinds.get("x", 0)
    cur.execute(f"SELECT code, COUNT(*) FROM {t['flag']} WHERE status = 'open' GROUP BY code", [])
    result.open_by_code = dict(sorted(cur.fetchall()))
