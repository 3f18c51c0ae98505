"""2b. Time entries partitioned by month: the import, the reconciliation and the invoice run on a
partitioned copy of `timesheets_timeentry` against the same runs on the plain table (issue 16,
docs/scaling.md step 2).

Everything happens in one transaction rolled back at the end, so the database is left as it was
(a `--reuse-db` run on a database built by `--only import,reconciliation` works, and so does a
second one):

- the foreign keys that point at time entries (`timesheets_flag.entry_id`,
  `invoicing_entrybilling.entry_id`) are dropped first, for both sides: PostgreSQL cannot make a
  foreign key reference `id` of a partitioned table whose primary key is `(id, date)`, and
  neither side's timing then pays for a check the other does not make;
- the copy: same columns, defaults, CHECKs, identity (continuing after the plain table's ids)
  and outbound foreign keys, range-partitioned on `date`, one partition per month of the data and
  a DEFAULT one; primary key `(id, date)` and every unique key with `date` added; every other
  index as on the plain table; every entry copied, then ANALYZE;
- each side runs with its table under the name `timesheets_timeentry` (the two are swapped by
  renaming them), so the real code runs unchanged; each run starts from the same state (a
  savepoint rolled back after it), plain table = baseline, partitioned = candidate, alternating
  rounds after a warm-up like every step.

Parts, and what is compared (what steps 1-3 compare): the time-entry import of a small file of
the bench's entries (unchanged rows, changed hours, dates moved to another month, i.e. another
partition, and new Entry IDs): its counts, the stored fields of the entries the file names, the
history rows it wrote and the table's row count; the reconciliation from no flags (step 2): the
open (code, subject) set; the invoice run of the data's first month from no invoices (step 3):
invoices, lines and entry billings fingerprints. Also recorded: whether a second entry with an
existing Entry ID on another date is refused on each table (the unique key is `(external_id,
date)` on the partitioned one).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection, transaction

from bench import harness
from bench.common import CANDIDATE_BUDGET_S, Context, bench_result, log, sql
from bench.steps.imports import ENTRY_FINGERPRINT
from bench.steps.invoice_run import INVOICE_TABLES, invoice_fingerprint
from bench.steps.reconciliation import _reset as reset_flags
from bench.steps.reconciliation import open_flags

ENTRY = "timesheets_timeentry"
PARTED = "bench_entry_parted"  # the partitioned copy while the plain table is in place
PLAIN = "bench_entry_plain"  # the plain table while the partitioned copy is in place
SIDES = ("plain", "partitioned")

# -- the partitioned copy ------------------------------------------------------------------------


def drop_foreign_keys_to_entries() -> list[str]:
    """Drop every foreign key that references time entries; `table.column` of each."""
    rows = sql(
        """SELECT c.conrelid::regclass::text, c.conname, a.attname::text
           FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
           WHERE c.contype = 'f' AND c.confrelid = %s::regclass ORDER BY 1, 3""",
        [ENTRY],
    )
    for table, name, _ in rows:
        sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    return [f"{table}.{column}" for table, _, column in rows]


def _months(first: dt.date | None, last: dt.date | None) -> list[tuple[dt.date, dt.date]]:
    """[start, next start) of every month from `first`'s to `last`'s."""
    bounds = []
    month = first.replace(day=1) if first else None
    while month and last and month <= last:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        bounds.append((month, following))
        month = following
    return bounds


def _unique_keys() -> list[tuple[str, list[str]]]:
    """(PRIMARY KEY | UNIQUE, columns) of the plain table's keys, `date` added where missing."""
    rows = sql(
        """SELECT c.contype, array_agg(a.attname::text ORDER BY k.ord)
           FROM pg_constraint c
           CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
           WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u')
           GROUP BY c.oid, c.contype ORDER BY c.contype, 2""",
        [ENTRY],
    )
    keys = []
    for kind, columns in rows:
        columns = list(columns) + ([] if "date" in columns else ["date"])
        keys.append(("PRIMARY KEY" if kind == "p" else "UNIQUE", columns))
    return keys


def _other_indexes() -> list[str]:
    """CREATE INDEX statements of the plain table's indexes that back no key, for the copy."""
    rows = sql(
        """SELECT i.relname, pg_get_indexdef(x.indexrelid), x.indisunique
           FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
           WHERE x.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
           ORDER BY 1""",
        [ENTRY],
    )
    statements = []
    for name, definition, unique in rows:
        if unique:  # none today; a partitioned table would refuse it without `date`
            raise RuntimeError(f"unique index {name} on {ENTRY}: add it to the copy by hand")
        statements.append(
            re.sub(r"^CREATE INDEX \S+ ON \S+ ", f"CREATE INDEX ON {PARTED} ", definition)
        )
    return statements


def create_partitioned_copy() -> dict[str, Any]:
    """Create and fill PARTED from the plain table; what it is made of, and the seconds the
    copy, its keys and indexes and ANALYZE took."""
    sql(
        f"CREATE TABLE {PARTED} (LIKE {ENTRY} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY) PARTITION BY RANGE (date)"
    )
    ((first, last),) = sql(f"SELECT min(date), max(date) FROM {ENTRY}")
    months = _months(first, last)
    for start, end in months:
        sql(
            f"CREATE TABLE {PARTED}_{start:%Y_%m} PARTITION OF {PARTED} "
            "FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    sql(f"CREATE TABLE {PARTED}_default PARTITION OF {PARTED} DEFAULT")
    started = time.perf_counter()
    sql(f"INSERT INTO {PARTED} SELECT * FROM {ENTRY}")
    keys = _unique_keys()
    for kind, columns in keys:
        sql(f"ALTER TABLE {PARTED} ADD {kind} ({', '.join(columns)})")
    indexes = _other_indexes()
    for statement in indexes:
        sql(statement)
    # After the indexes: rows inserted under a deferred foreign key leave trigger events
    # pending, and PostgreSQL refuses CREATE INDEX on a table that has any.
    for (definition,) in sql(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [ENTRY],
    ):
        sql(f"ALTER TABLE {PARTED} ADD {definition}")
    # New entries continue after the plain table's ids, as they would after a migration.
    sql(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f"(SELECT COALESCE(max(id), 0) + 1 FROM {ENTRY}), false)",
        [PARTED],
    )
    sql(f"ANALYZE {PARTED}")
    return {
        "copy_s": round(time.perf_counter() - started, 3),
        "partitions": len(months) + 1,
        "months": [f"{months[0][0]:%Y-%m}", f"{months[-1][0]:%Y-%m}"] if months else [],
        "keys": [f"{kind} ({', '.join(columns)})" for kind, columns in keys],
        "other_indexes": len(indexes),
    }


class Tables:
    """Which of the two tables is `timesheets_timeentry` (renaming swaps them)."""

    def __init__(self) -> None:
        self.current = "plain"

    def use(self, side: str) -> None:
        if side == self.current:
            return
        away, back = (PLAIN, PARTED) if side == "partitioned" else (PARTED, PLAIN)
        sql(f"ALTER TABLE {ENTRY} RENAME TO {away}")
        sql(f"ALTER TABLE {back} RENAME TO {ENTRY}")
        self.current = side


def same_entry_id_other_date() -> str | None:
    """Does the table in place take a second entry with an existing Entry ID, dated 400 days
    later? "refused", "accepted" (rolled back), or None with no entries to copy."""
    columns = (
        "external_id, external_number, {date}, role, project_code, task, duration_ms, billable, "
        "approved, notes, locked, created_at, updated_at, employee_id, source"
    )
    sid = transaction.savepoint()
    try:
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {ENTRY} ({columns.format(date='date')}) "
                f"SELECT {columns.format(date='date + 400')} FROM {ENTRY} ORDER BY id LIMIT 1"
            )
            return "accepted" if cur.rowcount else None
    except DatabaseError:
        return "refused"
    finally:
        transaction.savepoint_rollback(sid)


# -- the parts -----------------------------------------------------------------------------------


@dataclass
class Part:
    name: str
    label: str
    run: Callable[[], Any]  # the real code: timed
    result: Callable[[Any], Any]  # what both sides must agree on, read after the run
    reset: Callable[[], None]  # the starting state, before the run (not timed)
    rows: int | None = None


def _entries_result(ids: list[str], result: Any) -> tuple:
    """An import's counts, the entries the file names, the history rows it wrote, the total."""
    if result.errors:
        raise RuntimeError("import rejected: " + "; ".join(map(str, result.errors[:5])))
    entries = sql(f"{ENTRY_FINGERPRINT} WHERE e.external_id = ANY(%s)", [ids])[0]
    history = sql(
        """SELECT count(*), md5(string_agg(concat_ws('|', h.history_type, h.external_id, h.date,
               h.duration_ms, h.project_code), ',' ORDER BY h.external_id, h.history_type))
           FROM timesheets_historicaltimeentry h WHERE h.import_record_id = %s""",
        [result.import_id],
    )[0]
    (total,) = sql(f"SELECT count(*) FROM {ENTRY}")[0]
    counts = (result.created, result.updated, result.unchanged)
    return counts, tuple(entries), tuple(history), total


def _import_file(ctx: Context) -> tuple[Path, list[str], dict[str, int]]:
    """A small file of entries the database has (the warm-up file's rows): every 10th with
    other hours, every 10th a month later and every 10th 40 days earlier (another partition),
    every 10th also under a new Entry ID; the rest unchanged. (path, its Entry IDs, counts)"""
    with ctx.files.warmup_entries.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or []), list(reader)
    out: list[dict[str, str]] = []
    made = {"rows": 0, "hours_changed": 0, "moved_month": 0, "new": 0}
    for n, row in enumerate(rows):
        row = dict(row)
        if n % 10 == 1:
            row["Hours"] = "0.25" if row["Hours"] != "0.25" else "0.5"
            made["hours_changed"] += 1
        elif n % 10 in (2, 3) and re.fullmatch(r"\d{4}-\d\d-\d\d", row["Date"]):
            shift = dt.timedelta(days=31 if n % 10 == 2 else -40)
            row["Date"] = (dt.date.fromisoformat(row["Date"]) + shift).isoformat()
            made["moved_month"] += 1
        out.append(row)
        if n % 10 == 4:
            out.append({**row, "Entry ID": f"P{row['Entry ID']}"})
            made["new"] += 1
    made["rows"] = len(out)
    path = ctx.tmp / "partitioning_import.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(out)
    return path, [r["Entry ID"] for r in out], made


def _parts(ctx: Context, made: dict[str, Any]) -> list[Part]:
    from core.dates import period_bounds
    from invoicing.services import invoice_run_generate
    from timesheets.importing import time_entry_import
    from timesheets.services import reconciliation_run

    path, ids, made["import_file"] = _import_file(ctx)
    period = period_bounds(ctx.files.firm.start)[0]

    def run_invoices() -> Any:
        run = invoice_run_generate(period=period, user=None)
        if run.status != "done":
            raise RuntimeError(f"invoice run ended {run.status}: {getattr(run, 'error', '')}")
        return run

    return [
        Part(
            "import",
            "timesheets.importing.time_entry_import of a small file",
            lambda: time_entry_import(file=path),
            lambda result: _entries_result(ids, result),
            lambda: None,
            rows=len(ids),
        ),
        Part(
            "reconciliation",
            "timesheets.services.reconciliation_run from no flags",
            lambda: reconciliation_run(as_of=ctx.as_of, user=None),
            lambda _: open_flags(),
            reset_flags,
            rows=ctx.files.entry_count,
        ),
        Part(
            "invoice_run",
            f"invoicing.services.invoice_run_generate(period={period:%Y-%m}) from no invoices",
            run_invoices,
            lambda _: invoice_fingerprint(period),
            lambda: sql(f"TRUNCATE {INVOICE_TABLES} RESTART IDENTITY CASCADE"),
        ),
    ]


def _summary(part: Part, value: Any) -> dict[str, Any]:
    """A part's result in a few numbers, for the report."""
    if part.name == "import":
        (created, updated, unchanged), _, (history, _), total = value
        return {"created": created, "updated": updated, "unchanged": unchanged,
                "history_rows": history, "entries_after": total}  # fmt: skip
    if part.name == "reconciliation":
        return {"open_flags": len(value)}
    return {"invoices": value[0][0], "lines": value[1][0], "entries_billed": value[2][0]}


# -- the step ------------------------------------------------------------------------------------


def _pair(ctx: Context, tables: Tables, part: Part) -> dict[str, Any]:
    """Both sides of one part, alternating; its bench result."""
    seen: dict[str, Any] = {}
    kinds: dict[str, str] = {}

    def one_round(side: str) -> harness.Sample:
        tables.use(side)
        # What the real code ran on: "p" partitioned table, "r" plain table.
        kinds[side] = sql("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [ENTRY])[0][0]
        sid = transaction.savepoint()
        try:
            part.reset()
            sample, value = harness.measure(part.run)
            seen[side] = part.result(value)
        finally:
            transaction.savepoint_rollback(sid)
        return sample

    cand = harness.Side(f"{part.label}, entries partitioned by month")
    base = harness.Side(f"the same on the plain {ENTRY}")
    harness.warm_up_and_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=lambda: one_round("partitioned"),
        run_baseline=lambda: one_round("plain"),
        log=log,
        note=f"{part.name}: warm-up",
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    same = seen["plain"] == seen["partitioned"] if len(seen) == 2 else None
    extra: dict[str, Any] = {
        f"{side}_result": _summary(part, seen[side]) for side in SIDES if side in seen
    }
    extra["relkind"] = kinds
    rows = part.rows if part.rows is not None else extra["plain_result"].get("entries_billed")
    return bench_result(
        f"partitioning_{part.name}",
        rows,
        cand,
        base,
        same=same,
        notes=f"{part.label}; candidate on a copy of {ENTRY} partitioned by month on date, "
        "baseline on the plain table, in one transaction rolled back at the end "
        "(bench/steps/partitioning.py).",
        **extra,
    )


def case_partitioning(ctx: Context):
    made: dict[str, Any] = {}
    parts = _parts(ctx, made)
    results = []
    with transaction.atomic():
        made["foreign_keys_dropped"] = drop_foreign_keys_to_entries()
        log("  copying the time entries into a table partitioned by month")
        made.update(create_partitioned_copy())
        log(f"    {made['partitions']} partitions in {made['copy_s']} s")
        tables = Tables()
        made["same_entry_id_other_date"] = {}
        for side in SIDES:
            tables.use(side)
            made["same_entry_id_other_date"][side] = same_entry_id_other_date()
        for part in parts:
            results.append(_pair(ctx, tables, part))
        transaction.set_rollback(True)  # the database as it was: plain table, foreign keys
    ctx.data["partitioning"] = made
    results[0].update(made)
    yield from results
