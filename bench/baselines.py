"""The baselines: the fastest plain thing PostgreSQL does with the same data.

Each is hand-written SQL that produces the same rows as the candidate (the harness checks it), with
none of what an application adds (validation messages, history rows, progress records, locks).
They are what the ratio is measured against, not production code: no Decimal logic lives here
beyond what SQL `numeric` does (round(x, 2) on numeric is half away from zero = ROUND_HALF_UP for
the positive amounts used).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.db import connection

BLOCKING = "('NO_AGREEMENT', 'AGREEMENT_NOT_SIGNED', 'OUTSIDE_AGREEMENT_DATES', 'MISSING_RATE', 'OVER_CAP', 'DUPLICATE_ENTRY')"
ENTRY_ORDER = '(e.external_number IS NULL), e.external_number, e.external_id COLLATE "C"'
MATCH = (
    "a.project_code = e.project_code AND a.stage = 'signed' AND a.start_date <= e.date "
    "AND (a.end_date IS NULL OR a.end_date >= e.date)"
)

# -- 1. import: psql \copy of the file into a staging table, then one INSERT ... SELECT ----------

IMPORT_COPY = """
DROP TABLE IF EXISTS bench_stage;
CREATE UNLOGGED TABLE bench_stage (entry_id text, date text, employee_id text, employee_name text,
    role text, project_code text, task text, hours text, billable text, approved text, notes text);
\\copy bench_stage FROM '{path}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')
"""

IMPORT_INSERT = """
BEGIN;
INSERT INTO timesheets_employee (external_id, name)
SELECT DISTINCT ON (employee_id) employee_id, COALESCE(employee_name, '')
FROM bench_stage ORDER BY employee_id
ON CONFLICT (external_id) DO NOTHING;
INSERT INTO timesheets_timeentry (external_id, external_number, date, employee_id, role,
    project_code, task, duration_ms, billable, approved, notes, locked, source, created_at,
    updated_at)
SELECT s.entry_id,
       CASE WHEN s.entry_id ~ '^[0-9]+$' THEN s.entry_id::numeric END,
       CASE WHEN s.date LIKE '%/%' THEN to_date(s.date, 'MM/DD/YYYY') ELSE s.date::date END,
       emp.id, COALESCE(s.role, ''), s.project_code, COALESCE(s.task, ''),
       CASE WHEN s.hours LIKE '%:%'
            THEN (split_part(s.hours, ':', 1)::int * 3600
                  + split_part(s.hours, ':', 2)::int * 60
                  + COALESCE(NULLIF(split_part(s.hours, ':', 3), '')::int, 0)) * 1000
            ELSE round(s.hours::numeric * 3600000)::int END,
       lower(s.billable) IN ('yes', 'y', 'true', '1'),
       lower(COALESCE(NULLIF(s.approved, ''), 'yes')) IN ('yes', 'y', 'true', '1'),
       COALESCE(s.notes, ''), false, 'billable', now(), now()
FROM bench_stage s JOIN timesheets_employee emp ON emp.external_id = s.employee_id;
COMMIT;
DROP TABLE bench_stage;
"""


def import_scripts(tmp: Path, csv_path: Path) -> tuple[Path, Path]:
    copy_sql = tmp / "baseline_copy.sql"
    insert_sql = tmp / "baseline_insert.sql"
    copy_sql.write_text(IMPORT_COPY.format(path=str(csv_path).replace("'", "''")))
    insert_sql.write_text(IMPORT_INSERT)
    return copy_sql, insert_sql


# -- 2. reconciliation: every flag of SPEC 2 in one INSERT ... SELECT (from no flags) ------------

FLAG_SET = f"""
WITH codes AS (
    SELECT project_code, bool_or(stage = 'signed') AS signed FROM agreements_agreement
    GROUP BY project_code
), ent AS MATERIALIZED (
    SELECT e.id, e.external_id, e.external_number, e.employee_id, e.date, e.project_code,
           e.role, e.duration_ms, e.billable, e.approved, e.notes,
           a.id AS agreement_id, a.agreement_type, a.hourly_rate, a.billing_increment,
           a.not_to_exceed_hours, c.project_code IS NOT NULL AS known, c.signed
    FROM timesheets_timeentry e
    LEFT JOIN agreements_agreement a ON {MATCH}
    LEFT JOIN codes c ON c.project_code = e.project_code
), dup_group AS (
    SELECT employee_id, date, project_code, duration_ms, lower(trim(notes)) AS notes_key
    FROM timesheets_timeentry
    GROUP BY employee_id, date, project_code, duration_ms, lower(trim(notes))
    HAVING count(*) > 1
), dup AS (
    SELECT d.id FROM (
        SELECT e.id, e.billable, row_number() OVER (
            PARTITION BY e.employee_id, e.date, e.project_code, e.duration_ms, g.notes_key
            ORDER BY {ENTRY_ORDER}) AS rn
        FROM timesheets_timeentry e
        JOIN dup_group g ON g.employee_id = e.employee_id AND g.date = e.date
         AND g.project_code = e.project_code AND g.duration_ms = e.duration_ms
         AND g.notes_key = lower(trim(e.notes))
    ) d WHERE d.rn > 1 AND d.billable
), capped AS (
    SELECT e.*, sum(((e.duration_ms + e.billing_increment * 60000 - 1)
                     / (e.billing_increment * 60000)) * e.billing_increment)
               OVER (PARTITION BY e.agreement_id ORDER BY e.date, {ENTRY_ORDER}) AS running
    FROM ent e
    WHERE e.billable AND e.agreement_type = 'time_and_materials'
      AND e.not_to_exceed_hours IS NOT NULL AND e.id NOT IN (SELECT id FROM dup)
), daily AS (
    SELECT employee_id, date, sum(duration_ms) AS ms FROM timesheets_timeentry
    GROUP BY employee_id, date HAVING sum(duration_ms) > 43200000
), delivered AS (
    SELECT a.id, a.external_id, a.start_date, a.end_date, a.hours_sold,
           COALESCE(sum(e.duration_ms), 0) AS ms
    FROM agreements_agreement a LEFT JOIN timesheets_timeentry e ON {MATCH}
    WHERE a.stage = 'signed'
    GROUP BY a.id
), flags AS (
    SELECT CASE WHEN NOT e.known THEN 'NO_AGREEMENT'
                WHEN NOT e.signed THEN 'AGREEMENT_NOT_SIGNED'
                ELSE 'OUTSIDE_AGREEMENT_DATES' END AS code,
           e.external_id AS subject, e.id AS entry_id, e.agreement_id, e.employee_id,
           e.date AS day, e.project_code, e.duration_ms AS ms
    FROM ent e WHERE e.billable AND e.agreement_id IS NULL
    UNION ALL
    SELECT 'MISSING_RATE', e.external_id, e.id, e.agreement_id, e.employee_id, e.date,
           e.project_code, e.duration_ms
    FROM ent e
    WHERE e.billable AND e.agreement_type IN ('time_and_materials', 'prepaid_hours')
      AND e.hourly_rate IS NULL AND NOT EXISTS (
          SELECT 1 FROM agreements_rolerate r
          WHERE r.agreement_id = e.agreement_id AND r.role_key = lower(trim(e.role)))
    UNION ALL
    SELECT 'DUPLICATE_ENTRY', e.external_id, e.id, e.agreement_id, e.employee_id, e.date,
           e.project_code, e.duration_ms
    FROM ent e JOIN dup d ON d.id = e.id
    UNION ALL
    SELECT 'OVER_CAP', c.external_id, c.id, c.agreement_id, c.employee_id, c.date,
           c.project_code, c.duration_ms
    FROM capped c WHERE c.running > c.not_to_exceed_hours * 60
    UNION ALL
    SELECT 'UNAPPROVED_TIME', e.external_id, e.id, e.agreement_id, e.employee_id, e.date,
           e.project_code, e.duration_ms
    FROM ent e WHERE e.billable AND NOT e.approved AND e.date <= %(unapproved_cutoff)s
    UNION ALL
    SELECT 'EXCESSIVE_DAILY_HOURS', emp.external_id || '@' || to_char(d.date, 'YYYY-MM-DD'),
           NULL, NULL, d.employee_id, d.date, '', d.ms
    FROM daily d JOIN timesheets_employee emp ON emp.id = d.employee_id
    UNION ALL
    SELECT 'NOT_STARTED', d.external_id, NULL, d.id, NULL, d.start_date, '', NULL
    FROM delivered d WHERE d.start_date <= %(not_started_cutoff)s AND d.ms = 0
    UNION ALL
    SELECT 'UNDELIVERED_AT_END', d.external_id, NULL, d.id, NULL, d.end_date, '', NULL
    FROM delivered d
    WHERE d.end_date < %(as_of)s AND d.hours_sold > 0 AND d.ms < d.hours_sold * 3600000
)
SELECT code, subject, 'open', entry_id, agreement_id, employee_id, day, project_code,
       round(ms / 3600000.0, 4), code || ' (baseline)', now(), %(as_of)s, ''
FROM flags
"""
FLAG_COLUMNS = (
    "code, subject, status, entry_id, agreement_id, employee_id, day, project_code, hours, "
    "detail, raised_at, last_seen_as_of, reason"
)
RECONCILE = f"INSERT INTO timesheets_flag ({FLAG_COLUMNS})\n{FLAG_SET}"


def _flag_params(as_of: dt.date) -> dict[str, dt.date]:
    return {
        "as_of": as_of,
        "unapproved_cutoff": as_of - dt.timedelta(days=7),
        "not_started_cutoff": as_of - dt.timedelta(days=14),
    }


def reconcile(as_of: dt.date) -> int:
    with connection.cursor() as cur:
        cur.execute(RECONCILE, _flag_params(as_of))
        return cur.rowcount


# -- 3b. the flag refresh an invoice run starts with: the flag set, diffed against the table -----

FLAG_DIFF = f"""
CREATE TEMP TABLE b_flag ON COMMIT DROP AS
SELECT s.code, s.subject FROM ({FLAG_SET}) AS s({FLAG_COLUMNS});
CREATE INDEX ON b_flag (code, subject);
SELECT
  (SELECT count(*) FROM b_flag t WHERE NOT EXISTS (
       SELECT 1 FROM timesheets_flag f WHERE f.code = t.code AND f.subject = t.subject)),
  (SELECT count(*) FROM timesheets_flag f JOIN b_flag t ON f.code = t.code
       AND f.subject = t.subject WHERE f.status = 'resolved'),
  (SELECT count(*) FROM timesheets_flag f WHERE f.status = 'open' AND f.code = ANY(%(codes)s)
       AND NOT EXISTS (SELECT 1 FROM b_flag t WHERE t.code = f.code AND t.subject = f.subject));
"""


def flag_refresh(as_of: dt.date, codes: list[str]) -> tuple[int, int, int]:
    """Every flag rule as of `as_of` in one SELECT, diffed against timesheets_flag: how many
    flags a refresh would open, re-open and resolve, in one transaction that writes nothing
    (in the steady state the invoice run meets, a refresh has nothing to write)."""
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(FLAG_DIFF, {**_flag_params(as_of), "codes": codes})
        new, reopened, resolved = cur.fetchone()
    return int(new), int(reopened), int(resolved)


# -- 3. invoice run: the same lines by INSERT ... SELECT (no PDF, no history) ---------------------

INVOICE_RUN = f"""
CREATE TEMP TABLE b_root ON COMMIT DROP AS
WITH RECURSIVE chain AS (
    SELECT id, id AS root_id FROM agreements_agreement WHERE parent_id IS NULL
    UNION ALL
    SELECT a.id, c.root_id FROM agreements_agreement a JOIN chain c ON a.parent_id = c.id
)
SELECT c.id AS agreement_id, a.account_id, a.currency, r.po_number
FROM chain c JOIN agreements_agreement a ON a.id = c.id
JOIN agreements_agreement r ON r.id = c.root_id;

CREATE TEMP TABLE b_claim ON COMMIT DROP AS
WITH ent AS (
    SELECT e.id AS entry_id, e.date, e.external_number, e.external_id, a.id AS agreement_id,
           a.agreement_type, a.hours_sold,
           ((e.duration_ms + a.billing_increment * 60000 - 1) / (a.billing_increment * 60000))
               * a.billing_increment AS rounded,
           COALESCE(rr.role_key, '') AS role_key, COALESCE(rr.role, '') AS role,
           COALESCE(rr.rate, a.hourly_rate) AS rate
    FROM timesheets_timeentry e
    JOIN agreements_agreement a ON {MATCH}
         AND a.agreement_type IN ('time_and_materials', 'prepaid_hours')
    LEFT JOIN agreements_rolerate rr
         ON rr.agreement_id = a.id AND rr.role_key = lower(trim(e.role))
    WHERE e.billable AND e.approved AND e.date <= %(period_end)s
      AND NOT EXISTS (SELECT 1 FROM invoicing_entrybilling b WHERE b.entry_id = e.id)
      AND NOT EXISTS (SELECT 1 FROM timesheets_flag f WHERE f.entry_id = e.id
                      AND f.code IN {BLOCKING} AND f.status IN ('open', 'written_off'))
), drawn AS (
    SELECT agreement_id, sum(block_minutes) AS m FROM invoicing_entrybilling GROUP BY 1
), ordered AS (
    SELECT e.*,
           CASE WHEN e.agreement_type = 'prepaid_hours'
                THEN greatest(floor(COALESCE(e.hours_sold, 0) * 60)::int - COALESCE(d.m, 0), 0)
                ELSE 0 END AS block_left,
           COALESCE(sum(e.rounded) OVER (
               PARTITION BY e.agreement_id ORDER BY e.date, {ENTRY_ORDER}
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM ent e LEFT JOIN drawn d ON d.agreement_id = e.agreement_id
)
SELECT o.entry_id, o.agreement_id, o.role_key, o.role, o.rate, o.rounded,
       least(o.rounded, greatest(o.block_left - o.before, 0)) AS block_minutes,
       o.rounded - least(o.rounded, greatest(o.block_left - o.before, 0)) AS billed
FROM ordered o;

CREATE TEMP TABLE b_line ON COMMIT DROP AS
WITH ms AS (
    SELECT m.id, m.agreement_id, m.position, m.due_date, m.completed_on, m.percent, a.amount,
           max(m.position) OVER (PARTITION BY m.agreement_id) AS last_position,
           sum(round(a.amount * m.percent / 100, 2)) OVER (PARTITION BY m.agreement_id)
               - round(a.amount * m.percent / 100, 2) AS others
    FROM agreements_milestone m JOIN agreements_agreement a ON a.id = m.agreement_id
    WHERE a.agreement_type = 'fixed_fee' AND a.stage = 'signed'
), lines AS (
    SELECT c.agreement_id, 'time'::varchar AS kind, c.role_key, max(c.role) AS role, c.rate,
           sum(c.billed)::int AS minutes, round(sum(c.billed) * c.rate / 60, 2) AS amount,
           NULL::bigint AS milestone_id, 2 AS rank, 0 AS ms_position
    FROM b_claim c WHERE c.billed > 0 GROUP BY c.agreement_id, c.role_key, c.rate
    UNION ALL
    SELECT a.id, 'block', '', '', NULL, NULL, a.amount, NULL, 0, 0
    FROM agreements_agreement a
    WHERE a.agreement_type = 'prepaid_hours' AND a.stage = 'signed'
      AND a.start_date <= %(period_end)s
      AND NOT EXISTS (SELECT 1 FROM invoicing_blockbilling b WHERE b.agreement_id = a.id)
    UNION ALL
    SELECT ms.agreement_id, 'milestone', '', '', NULL, NULL,
           CASE WHEN ms.position = ms.last_position THEN ms.amount - ms.others
                ELSE round(ms.amount * ms.percent / 100, 2) END,
           ms.id, 1, ms.position
    FROM ms
    WHERE ((ms.due_date IS NOT NULL AND ms.due_date <= %(period_end)s)
           OR (ms.due_date IS NULL AND ms.completed_on <= %(period_end)s))
      AND NOT EXISTS (SELECT 1 FROM invoicing_milestonebilling b WHERE b.milestone_id = ms.id)
)
SELECT nextval(pg_get_serial_sequence('invoicing_invoiceline', 'id')) AS line_id,
       lines.*, r.account_id, r.currency, r.po_number, a.external_id, a.project_code,
       a.tax_rate, a.payment_terms
FROM lines JOIN b_root r ON r.agreement_id = lines.agreement_id
JOIN agreements_agreement a ON a.id = lines.agreement_id;

CREATE TEMP TABLE b_group ON COMMIT DROP AS
WITH by_rate AS (
    SELECT account_id, currency, po_number, tax_rate, sum(amount) AS base,
           min(payment_terms) AS terms
    FROM b_line GROUP BY account_id, currency, po_number, tax_rate
)
SELECT nextval(pg_get_serial_sequence('invoicing_invoice', 'id')) AS invoice_id, g.*
FROM (
    SELECT account_id, currency, po_number, sum(base) AS net,
           sum(round(base * tax_rate / 100, 2)) AS tax, min(terms) AS terms
    FROM by_rate GROUP BY account_id, currency, po_number
) g;

INSERT INTO invoicing_invoice (id, account_id, currency, po_number, period, invoice_date,
    due_date, status, net, tax, total, billing_email, rejection_reason, sent_to, disputed,
    dispute_reason, notes, terms, parties, version, pdf, pdf_sha256, created_at, updated_at)
SELECT g.invoice_id, g.account_id, g.currency, g.po_number, %(period)s, %(period_end)s,
       %(period_end)s + g.terms, 'draft', g.net, g.tax, g.net + g.tax, acc.billing_email, '', '',
       false, '', '', '', jsonb_build_object(), 1, '', '', now(), now()
FROM b_group g JOIN agreements_account acc ON acc.id = g.account_id;

INSERT INTO invoicing_invoiceline (id, invoice_id, agreement_id, kind, position, description,
    role, minutes, hours, rate, amount, tax_rate, tax_category, tax_exemption_reason,
    adjustment_reason)
SELECT b.line_id, g.invoice_id, b.agreement_id, b.kind,
       row_number() OVER (PARTITION BY g.invoice_id ORDER BY b.external_id COLLATE "C", b.rank,
                          b.ms_position, b.role_key, b.rate),
       b.project_code || ': ' || b.kind, b.role, b.minutes, round(b.minutes / 60.0, 2), b.rate,
       b.amount, b.tax_rate, CASE WHEN b.tax_rate > 0 THEN 'S' ELSE 'Z' END, '', ''
FROM b_line b JOIN b_group g ON g.account_id = b.account_id AND g.currency = b.currency
     AND g.po_number = b.po_number;

INSERT INTO invoicing_entrybilling (entry_id, agreement_id, invoice_id, line_id, period,
    rounded_minutes, block_minutes, billed_minutes)
SELECT c.entry_id, c.agreement_id, g.invoice_id, b.line_id, %(period)s, c.rounded,
       c.block_minutes, c.billed
FROM b_claim c
LEFT JOIN b_line b ON c.billed > 0 AND b.kind = 'time' AND b.agreement_id = c.agreement_id
     AND b.role_key = c.role_key AND b.rate = c.rate
LEFT JOIN b_group g ON g.account_id = b.account_id AND g.currency = b.currency
     AND g.po_number = b.po_number;

INSERT INTO invoicing_blockbilling (agreement_id, invoice_id, line_id)
SELECT b.agreement_id, g.invoice_id, b.line_id
FROM b_line b JOIN b_group g ON g.account_id = b.account_id AND g.currency = b.currency
     AND g.po_number = b.po_number
WHERE b.kind = 'block';

INSERT INTO invoicing_milestonebilling (milestone_id, invoice_id, line_id)
SELECT b.milestone_id, g.invoice_id, b.line_id
FROM b_line b JOIN b_group g ON g.account_id = b.account_id AND g.currency = b.currency
     AND g.po_number = b.po_number
WHERE b.kind = 'milestone';
"""


def invoice_run(period: dt.date, period_end: dt.date) -> None:
    from django.db import transaction

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(INVOICE_RUN, {"period": period, "period_end": period_end})


# -- 5. AR aging: one query, buckets by FILTER ---------------------------------------------------

AGING = """
WITH alloc AS (
    SELECT invoice_id, payment_id, amount FROM receivables_allocation
    WHERE date <= %(d)s AND (reversed_on IS NULL OR reversed_on > %(d)s)
), paid AS (
    SELECT invoice_id, sum(amount) AS s FROM alloc GROUP BY invoice_id
), credited AS (
    SELECT invoice_id, sum(amount) AS s FROM invoicing_creditnote WHERE date <= %(d)s
    GROUP BY invoice_id
), applied AS (
    SELECT payment_id, sum(amount) AS s FROM alloc GROUP BY payment_id
), item AS (
    SELECT i.account_id, i.currency, %(d)s - i.due_date AS late,
           i.total - COALESCE(p.s, 0) - COALESCE(c.s, 0) AS open, 0 AS unapplied
    FROM invoicing_invoice i
    LEFT JOIN paid p ON p.invoice_id = i.id LEFT JOIN credited c ON c.invoice_id = i.id
    WHERE i.status IN ('approved', 'sent', 'partially_paid', 'paid') AND i.invoice_date <= %(d)s
    UNION ALL
    SELECT p.account_id, p.currency, NULL, 0, p.amount - COALESCE(ap.s, 0)
    FROM receivables_payment p LEFT JOIN applied ap ON ap.payment_id = p.id
    WHERE p.date <= %(d)s
)
SELECT acc.external_id, acc.name, item.currency,
       COALESCE(sum(open) FILTER (WHERE late <= 0), 0),
       COALESCE(sum(open) FILTER (WHERE late BETWEEN 1 AND 30), 0),
       COALESCE(sum(open) FILTER (WHERE late BETWEEN 31 AND 60), 0),
       COALESCE(sum(open) FILTER (WHERE late BETWEEN 61 AND 90), 0),
       COALESCE(sum(open) FILTER (WHERE late > 90), 0),
       sum(unapplied)
FROM item JOIN agreements_account acc ON acc.id = item.account_id
WHERE item.open <> 0 OR item.unapplied <> 0
GROUP BY acc.external_id, acc.name, item.currency
ORDER BY acc.name, acc.external_id, item.currency
"""


def aging(as_of: dt.date) -> list[tuple[Any, ...]]:
    with connection.cursor() as cur:
        cur.execute(AGING, {"d": as_of})
        return cur.fetchall()
