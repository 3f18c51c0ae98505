"""1. The time-entry CSV import against psql \\copy + INSERT ... SELECT."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from bench.common import (
    Context,
    bench_result,
    log,
    sql,
    unavailable,
)

# -- 1. import -----------------------------------------------------------------------------------

ENTRY_TABLES = (
    "timesheets_timeentry, timesheets_historicaltimeentry, timesheets_employee, "
    "timesheets_historicalemployee, timesheets_flag, timesheets_historicalflag"
)
ENTRY_FINGERPRINT = """
SELECT count(*), COALESCE(sum(e.duration_ms), 0), md5(string_agg(
    concat_ws('|', e.external_id, e.external_number, e.date, emp.external_id, emp.name, e.role,
              e.project_code, e.task, e.duration_ms, e.billable, e.approved, e.notes),
    ',' ORDER BY e.external_id))
FROM timesheets_timeentry e JOIN timesheets_employee emp ON emp.id = e.employee_id
"""


def case_import(ctx: Context):
    from bench import harness

    cand = harness.Side("timesheets.importing.time_entry_import (the real importer)")
    base = harness.Side("psql \\copy into a staging table + one INSERT ... SELECT")
    try:
        from timesheets.importing import time_entry_import
    except ImportError as exc:
        unavailable(cand, exc)
        time_entry_import = None
    prints: dict[str, Any] = {}
    copy_only: list[float] = []

    def run_base(path: Path, record: bool = True) -> harness.Sample:
        sample, copy_s = _psql_import(ctx, path)
        if record:
            copy_only.append(copy_s)
            prints["baseline"] = sql(ENTRY_FINGERPRINT)[0]
        return sample

    def run_cand(path: Path, record: bool = True) -> harness.Sample:
        sample, result = harness.measure(lambda: time_entry_import(file=path))
        if result.errors:
            raise RuntimeError("import rejected: " + "; ".join(map(str, result.errors[:5])))
        if record:
            prints["candidate"] = sql(ENTRY_FINGERPRINT)[0]
        return sample

    harness.warm_up_and_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=(lambda: run_cand(ctx.files.entries)) if time_entry_import else None,
        run_baseline=lambda: run_base(ctx.files.entries),
        reset=_reset,
        warm_candidate=lambda: run_cand(ctx.files.warmup_entries, record=False),
        warm_baseline=lambda: run_base(ctx.files.warmup_entries, record=False),
        log=log,
        note="warm-up (first 1% of the file)",
    )
    if cand.status != "ok":
        # Later benchmarks need the entries: leave the baseline's rows in place.
        _reset()
        run_base(ctx.files.entries, record=False)
    vacuum()
    base.extra["copy_only_median_s"] = round(statistics.median(copy_only), 4) if copy_only else None
    same = None
    if "candidate" in prints and "baseline" in prints:
        same = prints["candidate"] == prints["baseline"]
    ctx.data["entries_loaded"] = sql("SELECT count(*) FROM timesheets_timeentry")[0][0]
    yield bench_result(
        "import",
        ctx.files.entry_count,
        cand,
        base,
        same=same,
        notes="same_result compares a fingerprint (md5 over every stored field) of the rows each "
        "side left in timesheets_timeentry.",
        file_mb=round(ctx.files.entries.stat().st_size / 1e6, 1),
    )


def _reset() -> None:
    sql(f"TRUNCATE {ENTRY_TABLES} RESTART IDENTITY CASCADE")


def _psql_import(ctx: Context, path: Path) -> tuple[Any, float]:
    """The baseline: psql's \\copy of `path` into a staging table, then one INSERT ... SELECT;
    (its sample, the copy's seconds)."""
    from bench import baselines, db, harness

    copy_sql, insert_sql = baselines.import_scripts(ctx.tmp, path)
    argv, env = db.psql_argv(ctx.url, "-f", str(copy_sql))
    one = harness.measure_process(argv, env=env, statements=3)
    argv, env = db.psql_argv(ctx.url, "-f", str(insert_sql))
    two = harness.measure_process(argv, env=env, statements=5)
    sample = harness.Sample(one.seconds + two.seconds, 8, max(one.peak_rss_mb, two.peak_rss_mb))
    return sample, one.seconds


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
