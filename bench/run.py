"""`python -m bench --scale small|firm|xl`: every benchmark of issue 8, results to bench/results/.

Order (each step leaves the data the next one needs): reset the database and migrate; write the
data files; import the agreements; 1. time-entry import; 2. reconciliation; 3. invoice run;
4. PDF; 5. AR aging (after loading the receivables history); 6. pages. Each benchmark warms both
sides up, then alternates baseline and candidate `reps` times from the same starting state. A
candidate that is not written yet, or fails, is reported as such; its baseline is still measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billable_bench"
REPS = {"small": 3, "firm": 3, "xl": 1}
PAGE_REQUESTS = {"small": 10, "firm": 40, "xl": 40}
# Lines of the many-page invoice whose extra pages are timed (issue 8: 1,000 at firm scale).
# Time box for one candidate's timed rounds (see harness.run_pair).
CANDIDATE_BUDGET_S = {"small": None, "firm": 600, "xl": 1800}
BIG_INVOICE_LINES = {"small": 200, "firm": 1000, "xl": 1000}
GOALS = {"import": 3.0, "reconciliation": 1.5, "invoice_run": 5.0, "pdf": 2.0, "aging": 2.0}
TITLES = {
    "import": "1. Time-entry CSV import",
    "reconciliation": "2. Reconciliation of all entries",
    "invoice_run": "3. Invoice run for one month (no PDF)",
    "pdf": "4. PDF of a 1-page invoice (warm process)",
    "aging": "5. AR aging as of a date",
    "page_dashboard": "6a. Exception dashboard page",
    "page_review": "6b. Invoice review page",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=["small", "firm", "xl"], default="small")
    parser.add_argument("--reps", type=int, default=None, help="alternating rounds per benchmark")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    args = parser.parse_args(argv)

    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: the bench measures the code
    # The upload limit (50 MB by default) guards the web form; a firm's 800,000-row export is
    # ~77 MB, so the bench lifts it for the command-line import it measures.
    os.environ.setdefault("BILLING_IMPORT_MAX_BYTES", str(1 << 34))

    from bench import db

    log(f"scale {args.scale}: resetting database {db.parse(url)['dbname']}")
    db.reset_database(url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    # Measure what production runs: no per-query logging of DEBUG.
    settings.DEBUG = False

    from bench import fixtures, harness

    data_dir = args.data_dir or ROOT / "bench" / "data" / args.scale
    log(f"writing data files to {data_dir}")
    files = fixtures.write_files(data_dir, args.scale)
    log(f"  {files.agreement_count} agreements, {files.entry_count} time entries")
    ctx = Context(args=args, url=url, files=files, reps=args.reps or REPS[args.scale], tmp=data_dir)
    results: dict[str, Any] = {
        "scale": args.scale,
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "machine": harness.machine(),
        "reps": ctx.reps,
        "data": {
            "seed": fixtures.SEED,
            "end": fixtures.END.isoformat(),
            "employees": len(files.firm.employees),
            "customers": len(files.firm.accounts),
            "agreements": files.agreement_count,
            "time_entries": files.entry_count,
            "sha256": files.sha256,
        },
        "setup": {},
        "benchmarks": [],
    }
    setup_agreements(ctx, results)
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    for name, fn in CASES:
        if only and name not in only and not (name.startswith("page") and "pages" in only):
            continue
        log(f"{TITLES.get(name, name)}")
        try:
            for bench in fn(ctx):
                results["benchmarks"].append(bench)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            import traceback

            traceback.print_exc()
            results["benchmarks"].append(failed(name, exc))
    results["data"].update(ctx.data)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    write_results(results, args.output_dir)
    log(f"done in {results['total_seconds']} s; results in {args.output_dir}/{args.scale}.json")
    return 0


class Context:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        self.data: dict[str, Any] = {}
        self.recon_steady_s: float | None = None

    @property
    def as_of(self) -> dt.date:
        from bench.fixtures import END

        return END + dt.timedelta(days=1)


def sql(statement: str, params: Any = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def failed(name: str, exc: Exception) -> dict[str, Any]:
    return {
        "name": name,
        "title": TITLES.get(name, name),
        "status": "error",
        "error": f"{type(exc).__name__}: {str(exc)[:500]}",
        "candidate": None,
        "baseline": None,
        "ratio": None,
        "goal": GOALS.get(name),
        "meets_goal": None,
        "same_result": None,
        "rows": None,
    }


def bench_result(
    name: str, rows: int | None, cand, base, *, same: bool | None, notes: str = "", **extra: Any
) -> dict[str, Any]:
    c, b = cand.median, base.median
    ratio = round(c / b, 2) if c and b else None
    goal = GOALS.get(name)
    out = {
        "name": name,
        "title": TITLES.get(name, name),
        "status": "ok" if ratio else cand.status,
        "rows": rows,
        "candidate": cand.as_dict(rows),
        "baseline": base.as_dict(rows),
        "ratio": ratio,
        "goal": goal,
        "meets_goal": (ratio <= goal) if (ratio is not None and goal is not None) else None,
        "same_result": same,
        "notes": notes,
    }
    out.update(extra)
    return out


def unavailable(side, exc: Exception) -> None:
    side.status = "not available"
    side.error = f"{type(exc).__name__}: {exc}"
    log(f"  candidate not available: {side.error}")


# -- setup ---------------------------------------------------------------------------------------


def setup_agreements(ctx: Context, results: dict[str, Any]) -> None:
    from bench import harness

    try:
        from agreements.services import agreement_import
    except ImportError as exc:
        results["setup"]["agreement_import"] = {"status": "not available", "error": str(exc)}
        log(f"agreement import not available: {exc}")
        return
    sample, result = harness.measure(lambda: agreement_import(file=ctx.files.agreements))
    if result.errors:
        raise SystemExit("agreements rejected:\n" + "\n".join(map(str, result.errors[:20])))
    results["setup"]["agreement_import"] = {
        "seconds": round(sample.seconds, 3),
        "created": result.created,
        "queries": sample.queries,
        "peak_rss_mb": sample.peak_rss_mb,
    }
    log(f"  agreements imported in {sample.seconds:.2f} s")


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
    from bench import baselines, db, harness

    cand = harness.Side("timesheets.importing.time_entry_import (the real importer)")
    base = harness.Side("psql \\copy into a staging table + one INSERT ... SELECT")
    try:
        from timesheets.importing import time_entry_import
    except ImportError as exc:
        unavailable(cand, exc)
        time_entry_import = None
    prints: dict[str, Any] = {}
    copy_only: list[float] = []

    def reset() -> None:
        sql(f"TRUNCATE {ENTRY_TABLES} RESTART IDENTITY CASCADE")

    def run_base(path: Path, record: bool = True) -> harness.Sample:
        copy_sql, insert_sql = baselines.import_scripts(ctx.tmp, path)
        argv, env = db.psql_argv(ctx.url, "-f", str(copy_sql))
        one = harness.measure_process(argv, env=env, statements=3)
        argv, env = db.psql_argv(ctx.url, "-f", str(insert_sql))
        two = harness.measure_process(argv, env=env, statements=5)
        if record:
            copy_only.append(one.seconds)
            prints["baseline"] = sql(ENTRY_FINGERPRINT)[0]
        return harness.Sample(one.seconds + two.seconds, 8, max(one.peak_rss_mb, two.peak_rss_mb))

    def run_cand(path: Path, record: bool = True) -> harness.Sample:
        sample, result = harness.measure(lambda: time_entry_import(file=path))
        if result.errors:
            raise RuntimeError("import rejected: " + "; ".join(map(str, result.errors[:5])))
        if record:
            prints["candidate"] = sql(ENTRY_FINGERPRINT)[0]
        return sample

    log("  warm-up (first 1% of the file)")
    reset()
    run_base(ctx.files.warmup_entries, record=False)
    if time_entry_import is not None:
        reset()
        try:
            run_cand(ctx.files.warmup_entries, record=False)
        except Exception as exc:  # noqa: BLE001
            cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
    harness.run_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=(lambda: run_cand(ctx.files.entries)) if time_entry_import else None,
        run_baseline=lambda: run_base(ctx.files.entries),
        reset=reset,
        log=log,
    )
    if cand.status != "ok":
        # Later benchmarks need the entries: leave the baseline's rows in place.
        reset()
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


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


# -- 2. reconciliation ---------------------------------------------------------------------------


def open_flags() -> set[tuple[str, str]]:
    return set(sql("SELECT code, subject FROM timesheets_flag WHERE status = 'open'"))


def case_reconciliation(ctx: Context):
    from bench import baselines, harness

    cand = harness.Side("timesheets.services.reconciliation_run (set-based SQL, history rows)")
    base = harness.Side("one hand-written INSERT ... SELECT of every flag")
    try:
        from timesheets.services import reconciliation_run
    except ImportError as exc:
        unavailable(cand, exc)
        reconciliation_run = None
    seen: dict[str, set] = {}

    def reset() -> None:
        sql(
            "TRUNCATE timesheets_flag, timesheets_historicalflag, timesheets_reconciliationrun "
            "RESTART IDENTITY CASCADE"
        )

    def run_base() -> harness.Sample:
        sample, _ = harness.measure(lambda: baselines.reconcile(ctx.as_of))
        seen["baseline"] = open_flags()
        return sample

    def run_cand() -> harness.Sample:
        sample, _ = harness.measure(lambda: reconciliation_run(as_of=ctx.as_of, user=None))
        seen["candidate"] = open_flags()
        return sample

    log("  warm-up")
    reset()
    run_base()
    if reconciliation_run is not None:
        reset()
        try:
            run_cand()
        except Exception as exc:  # noqa: BLE001
            cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
    harness.run_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if reconciliation_run else None,
        run_baseline=run_base,
        reset=reset,
        log=log,
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    if cand.status == "ok":
        # The nightly case: nothing changed since the last run.
        sample, _ = harness.measure(lambda: reconciliation_run(as_of=ctx.as_of, user=None))
        ctx.recon_steady_s = sample.seconds
        cand.extra["rerun_no_change_s"] = round(sample.seconds, 4)
    else:
        reset()
        run_base()
    same, extra = None, {}
    if "candidate" in seen and "baseline" in seen:
        c, b = seen["candidate"], seen["baseline"]
        same = c == b
        extra["only_candidate"] = sorted(map(list, c - b))[:10]
        extra["only_baseline"] = sorted(map(list, b - c))[:10]
        extra["differences"] = len(c ^ b)
    flags = seen.get("candidate") or seen.get("baseline") or set()
    by_code: dict[str, int] = {}
    for code, _ in flags:
        by_code[code] = by_code.get(code, 0) + 1
    vacuum()
    yield bench_result(
        "reconciliation",
        ctx.files.entry_count,
        cand,
        base,
        same=same,
        notes="From no flags (first run) on both sides; same_result compares the open "
        "(code, subject) sets. rows = time entries reconciled.",
        open_flags_by_code=dict(sorted(by_code.items())),
        **extra,
    )


# -- 3. invoice run ------------------------------------------------------------------------------

INVOICE_TABLES = (
    "invoicing_entrybilling, invoicing_historicalentrybilling, invoicing_milestonebilling, "
    "invoicing_historicalmilestonebilling, invoicing_blockbilling, "
    "invoicing_historicalblockbilling, invoicing_invoiceline, invoicing_historicalinvoiceline, "
    "invoicing_invoice, invoicing_historicalinvoice, invoicing_invoicerun"
)
INVOICE_FINGERPRINT = [
    """SELECT count(*), md5(string_agg(concat_ws('|', acc.external_id, i.currency, i.po_number,
           i.invoice_date, i.due_date, i.net, i.tax, i.total), ',' ORDER BY acc.external_id,
           i.currency, i.po_number))
       FROM invoicing_invoice i JOIN agreements_account acc ON acc.id = i.account_id
       WHERE i.period = %(p)s""",
    """SELECT count(*), md5(string_agg(concat_ws('|', a.external_id, l.kind, lower(l.role),
           l.minutes, l.rate, l.amount, l.tax_rate, acc.external_id), ',' ORDER BY a.external_id,
           l.kind, lower(l.role), l.rate, l.amount))
       FROM invoicing_invoiceline l JOIN invoicing_invoice i ON i.id = l.invoice_id
       JOIN agreements_account acc ON acc.id = i.account_id
       LEFT JOIN agreements_agreement a ON a.id = l.agreement_id WHERE i.period = %(p)s""",
    """SELECT count(*), md5(string_agg(concat_ws('|', e.external_id, b.rounded_minutes,
           b.block_minutes, b.billed_minutes, b.line_id IS NULL), ',' ORDER BY e.external_id))
       FROM invoicing_entrybilling b JOIN timesheets_timeentry e ON e.id = b.entry_id""",
]


def invoice_fingerprint(period: dt.date) -> list[tuple]:
    return [tuple(sql(q, {"p": period})[0]) for q in INVOICE_FINGERPRINT]


def case_invoice_run(ctx: Context):
    from bench import baselines, harness
    from core.dates import period_bounds

    period = period_bounds(ctx.files.firm.start)[0]
    cand = harness.Side(f"invoicing.services.invoice_run_generate(period={period:%Y-%m})")
    base = harness.Side("hand-written INSERT ... SELECT of the same invoices, lines and billings")
    try:
        from invoicing.services import invoice_run_generate
    except ImportError as exc:
        unavailable(cand, exc)
        invoice_run_generate = None
    prints: dict[str, Any] = {}

    def reset() -> None:
        sql(f"TRUNCATE {INVOICE_TABLES} RESTART IDENTITY CASCADE")

    def run_base(p: dt.date = period) -> harness.Sample:
        sample, _ = harness.measure(lambda: baselines.invoice_run(p, period_bounds(p)[1]))
        prints["baseline"] = invoice_fingerprint(p)
        return sample

    def run_cand(p: dt.date = period) -> harness.Sample:
        sample, run = harness.measure(lambda: invoice_run_generate(period=p, user=None))
        status = getattr(run, "status", "done")
        if status not in ("done", "DONE"):
            raise RuntimeError(f"invoice run ended {status}: {getattr(run, 'error', '')[:300]}")
        prints["candidate"] = invoice_fingerprint(p)
        return sample

    # Warm-up on the month before the data: no entries yet, only the blocks and milestones of
    # agreements that started earlier, so every code path runs at a fraction of the cost.
    before = (period - dt.timedelta(days=1)).replace(day=1)
    log(f"  period {period:%Y-%m}; warm-up on {before:%Y-%m}")
    reset()
    run_base(before)
    if invoice_run_generate is not None:
        reset()
        try:
            cand.extra["warmup_s"] = round(run_cand(before).seconds, 1)
        except Exception as exc:  # noqa: BLE001
            cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
    harness.run_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if invoice_run_generate else None,
        run_baseline=run_base,
        reset=reset,
        log=log,
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    final = prints.get("candidate") or prints.get("baseline") or [(0, ""), (0, ""), (0, "")]
    same = None
    extra: dict[str, Any] = {
        "period": f"{period:%Y-%m}",
        "invoices": final[0][0],
        "lines": final[1][0],
        "entries_billed": final[2][0],
    }
    if "candidate" in prints and "baseline" in prints:
        c, b = prints["candidate"], prints["baseline"]
        same = c == b
        extra["same_invoices"], extra["same_lines"], extra["same_entry_billings"] = (
            c[0] == b[0],
            c[1] == b[1],
            c[2] == b[2],
        )
        if not same:
            extra["counts_candidate"] = [x[0] for x in c]
            extra["counts_baseline"] = [x[0] for x in b]
    if cand.status == "ok" and ctx.recon_steady_s and base.median:
        extra["ratio_without_reconciliation"] = round(
            (cand.median - ctx.recon_steady_s) / base.median, 2
        )
    ctx.data["invoice_run"] = extra
    yield bench_result(
        "invoice_run",
        final[2][0],
        cand,
        base,
        same=same,
        notes="The candidate first brings the flags up to date (SPEC 3), then prices and writes "
        "with history; the baseline reads the flags as they are. rows = entries billed.",
        **extra,
    )


# -- 4. PDF --------------------------------------------------------------------------------------

TRIVIAL_HTML = "<!doctype html><html><body><p>Invoice</p></body></html>"


def pdf_pages(data: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(data)).pages)


def case_pdf(ctx: Context):
    from weasyprint import HTML

    from bench import fixtures, harness

    cand = harness.Side("invoicing.pdf.invoice_pdf(invoice) of a 3-line invoice")
    base = harness.Side("WeasyPrint rendering a trivial one-paragraph page")
    try:
        from invoicing.pdf import invoice_pdf
    except ImportError as exc:
        unavailable(cand, exc)
        invoice_pdf = None
    big_lines = BIG_INVOICE_LINES[ctx.args.scale]
    one, big = fixtures.pdf_invoices(big_lines)
    out: dict[str, Any] = {}

    def run_base() -> harness.Sample:
        sample, data = harness.measure(lambda: HTML(string=TRIVIAL_HTML).write_pdf())
        out["baseline_pages"] = pdf_pages(data)
        return sample

    def run_cand() -> harness.Sample:
        sample, data = harness.measure(lambda: invoice_pdf(one))
        out["candidate_pages"] = pdf_pages(data)
        return sample

    log("  warm-up")
    run_base()
    if invoice_pdf is not None:
        try:
            run_cand()
        except Exception as exc:  # noqa: BLE001
            cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
    harness.run_pair(
        reps=max(ctx.reps, 5),
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if invoice_pdf else None,
        run_baseline=run_base,
        reset=lambda: None,
        log=log,
    )
    extra: dict[str, Any] = {"pages": out.get("candidate_pages")}
    if cand.status == "ok" and cand.median:
        try:
            times, pages = [], 0
            for _ in range(1 if ctx.args.scale == "small" else 3):
                sample, data = harness.measure(lambda: invoice_pdf(big))
                times.append(sample.seconds)
                pages = pdf_pages(data)
            big_s = statistics.median(times)
            extra.update(
                big_invoice_lines=big_lines,
                big_invoice_pages=pages,
                big_invoice_s=round(big_s, 3),
                big_invoice_peak_rss_mb=sample.peak_rss_mb,
            )
            if pages > (out.get("candidate_pages") or 1):
                extra["ms_per_extra_page"] = round(
                    (big_s - cand.median) * 1000 / (pages - out["candidate_pages"]), 1
                )
        except Exception as exc:  # noqa: BLE001
            extra["big_invoice_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    yield bench_result(
        "pdf",
        1,
        cand,
        base,
        same=(out.get("candidate_pages") == 1) if "candidate_pages" in out else None,
        notes="Both in a warm process (one render of each before timing). same_result: the "
        "candidate's PDF has exactly one page.",
        **extra,
    )


# -- 5. AR aging ---------------------------------------------------------------------------------


def case_aging(ctx: Context):
    from bench import baselines, fixtures, harness

    log("  loading the receivables history")
    stats = fixtures.load_receivables(ctx.files.firm, ctx.files.firm.scale.invoices)
    vacuum()
    ctx.data["receivables"] = stats
    as_of = fixtures.END
    cand = harness.Side("receivables.aging.aging_report(as_of).to_csv()")
    base = harness.Side("one SQL query with FILTER buckets")
    try:
        from receivables.aging import aging_report
    except ImportError as exc:
        unavailable(cand, exc)
        aging_report = None
    seen: dict[str, list] = {}

    def run_base() -> harness.Sample:
        sample, rows = harness.measure(lambda: baselines.aging(as_of))
        seen["baseline"] = [(r[0], r[1], r[2], *[round(x, 2) for x in r[3:9]]) for r in rows]
        return sample

    def run_cand() -> harness.Sample:
        def go():
            report = aging_report(as_of=as_of)
            report.to_csv()
            return report

        sample, report = harness.measure(go)
        seen["candidate"] = [
            (r.account_external_id, r.account_name, r.currency, *r.buckets, r.unapplied)
            for r in report.rows
        ]
        return sample

    log("  warm-up")
    run_base()
    if aging_report is not None:
        try:
            run_cand()
        except Exception as exc:  # noqa: BLE001
            cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
    harness.run_pair(
        reps=max(ctx.reps, 5),
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if aging_report else None,
        run_baseline=run_base,
        reset=lambda: None,
        log=log,
    )
    same = None
    if "candidate" in seen and "baseline" in seen:
        same = seen["candidate"] == seen["baseline"]
    yield bench_result(
        "aging",
        stats["invoices"],
        cand,
        base,
        same=same,
        notes=f"As of {as_of}; rows = invoices. same_result compares every report row "
        "(account, currency, five buckets, unapplied).",
        report_rows=len(seen.get("candidate") or seen.get("baseline") or []),
        **stats,
    )


# -- 6. pages ------------------------------------------------------------------------------------


def case_pages(ctx: Context):
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.urls import clear_url_caches, reverse

    from bench import harness
    from core import roles

    settings.ROOT_URLCONF = "bench.urls"
    clear_url_caches()
    User = get_user_model()
    n = PAGE_REQUESTS[ctx.args.scale]
    for name, url_name, role, query in (
        ("page_dashboard", "timesheets:dashboard", roles.SERVICES_MANAGER, ""),
        (
            "page_review",
            "invoicing:review",
            roles.BILLING_ADMIN,
            f"?period={ctx.files.firm.start:%Y-%m}",
        ),
    ):
        user, created = User.objects.get_or_create(username=f"bench-{name}")
        if created:
            user.groups.add(Group.objects.get(name=role))
        client = Client()
        client.force_login(user)
        cand = harness.Side(f"GET {url_name}{query}")
        base = harness.Side("GET an empty authenticated page (base template, navigation)")
        try:
            url = reverse(url_name) + query
        except Exception as exc:  # noqa: BLE001
            unavailable(cand, exc)
            url = None
        empty = reverse("bench-empty")

        def get(path: str, client: Client = client) -> Callable[[], harness.Sample]:
            def run() -> harness.Sample:
                sample, response = harness.measure(lambda: client.get(path))
                if response.status_code != 200:
                    raise RuntimeError(f"{path} answered {response.status_code}")
                return sample

            return run

        for _ in range(3):  # warm-up
            get(empty)()
            if url and cand.status == "ok":
                try:
                    get(url)()
                except Exception as exc:  # noqa: BLE001
                    cand.status, cand.error = "error", f"{type(exc).__name__}: {str(exc)[:300]}"
        quiet = lambda msg: None  # noqa: E731 - one line per request would drown the log
        harness.run_pair(
            reps=n,
            candidate=cand,
            baseline=base,
            run_candidate=get(url) if url else None,
            run_baseline=get(empty),
            reset=lambda: None,
            log=quiet,
        )
        for side in (cand, base):
            if side.samples:
                ms = [s.seconds * 1000 for s in side.samples]
                side.extra["p50_ms"] = round(harness.percentile(ms, 50), 1)
                side.extra["p95_ms"] = round(harness.percentile(ms, 95), 1)
                side.extra["requests"] = len(ms)
        log(f"  {name}: p50 {cand.extra.get('p50_ms')} ms vs {base.extra.get('p50_ms')} ms")
        yield bench_result(
            name,
            None,
            cand,
            base,
            same=None,
            notes="In-process Django test client, logged in; latency per request "
            "and queries per request.",
        )


CASES = [
    ("import", case_import),
    ("reconciliation", case_reconciliation),
    ("invoice_run", case_invoice_run),
    ("pdf", case_pdf),
    ("aging", case_aging),
    ("pages", case_pages),
]


# -- results -------------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value}{unit}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    d = results["data"]
    lines = [
        f"# Benchmarks, scale `{results['scale']}`",
        "",
        f"Measured {results['generated_at']} on {m.get('cores')} cores ({m.get('cpu', '?')}), "
        f"{m.get('memory_gb')} GB RAM, PostgreSQL {m.get('postgresql')}, Python {m.get('python')}. "
        f"{results['reps']} alternating rounds after a warm-up; medians.",
        "",
        f"Data: {d['employees']} employees, {d['customers']} customers, {d['agreements']} "
        f"agreements, {d['time_entries']} time entries"
        + (f", {d['receivables']['invoices']} invoices" if "receivables" in d else "")
        + f" (seed {d['seed']}, time up to {d['end']}).",
        "",
        "| benchmark | candidate s | baseline s | ratio | goal | rows/s | queries | peak MB | same result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for b in results["benchmarks"]:
        c, base = b.get("candidate") or {}, b.get("baseline") or {}
        if b["name"].startswith("page"):
            cs = f"p50 {_fmt(c.get('p50_ms'), ' ms')} / p95 {_fmt(c.get('p95_ms'), ' ms')}"
            bs = f"p50 {_fmt(base.get('p50_ms'), ' ms')} / p95 {_fmt(base.get('p95_ms'), ' ms')}"
        else:
            cs, bs = _fmt(c.get("median_s")), _fmt(base.get("median_s"))
        if c.get("status") not in (None, "ok"):
            cs = f"{c['status']}"
        ratio = _fmt(b.get("ratio"), "x")
        same = {True: "yes", False: "NO", None: "—"}[b.get("same_result")]
        lines.append(
            f"| {b['title']} | {cs} | {bs} | {ratio} | {_fmt(b.get('goal'), 'x')} | "
            f"{_fmt(c.get('rows_per_s'))} | {_fmt(c.get('queries'))} vs {_fmt(base.get('queries'))} | "
            f"{_fmt(c.get('peak_rss_mb'))} vs {_fmt(base.get('peak_rss_mb'))} | {same} |"
        )
    lines += ["", "Details:", ""]
    skip = {
        "name",
        "title",
        "candidate",
        "baseline",
        "ratio",
        "goal",
        "rows",
        "same_result",
        "status",
        "meets_goal",
    }
    for b in results["benchmarks"]:
        detail = {k: v for k, v in b.items() if k not in skip and v not in (None, "", [], {})}
        c = b.get("candidate") or {}
        if c.get("error"):
            detail["candidate_error"] = c["error"]
        for side in ("candidate", "baseline"):
            extra = {
                k: v
                for k, v in (b.get(side) or {}).items()
                if k
                in ("rerun_no_change_s", "copy_only_median_s", "rounds_cut_by_time_box", "warmup_s")
            }
            detail.update(extra)
        lines.append(
            f"- **{b['title']}**: candidate = {c.get('label', '—')}; baseline = "
            f"{(b.get('baseline') or {}).get('label', '—')}. "
            + "; ".join(f"{k}: {v}" for k, v in detail.items())
        )
    lines.append("")
    lines.append(f"Total bench time: {results['total_seconds']} s.")
    return "\n".join(lines) + "\n"


def write_results(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = results["scale"]
    tmp = out_dir / f"{scale}.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(out_dir / f"{scale}.json")
    (out_dir / f"{scale}.md").write_text(markdown(results))


if __name__ == "__main__":
    sys.exit(main())
