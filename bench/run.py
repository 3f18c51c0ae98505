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
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import DEFAULT_URL, REPS, ROOT, TITLES, Context, failed, log


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    url = _environment()
    _database(args, url)
    started = _django()

    from bench import fixtures
    from bench.steps.setup import setup_agreements

    data_dir = args.data_dir or ROOT / "bench" / "data" / args.scale
    log(f"writing data files to {data_dir}")
    files = fixtures.write_files(data_dir, args.scale)
    log(f"  {files.agreement_count} agreements, {files.entry_count} time entries")
    ctx = Context(args=args, url=url, files=files, reps=args.reps or REPS[args.scale], tmp=data_dir)
    results = _results(ctx)
    if not args.reuse_db:
        setup_agreements(ctx, results)
    _run_cases(ctx, results, started)
    _write(ctx, results, started, complete=True)
    log(f"done in {results['total_seconds']} s; results in {args.output_dir}/{args.scale}.json")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=["small", "firm", "xl"], default="small")
    parser.add_argument("--reps", type=int, default=None, help="alternating rounds per benchmark")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument(
        "--sources",
        default="",
        help="comma-separated sources of step import_sources (harvest,toggl,clockify,kimai,tempo,"
        "xlsx; default all)",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep the database as an earlier run left it (no reset, no agreement import): "
        "re-measure a later step, e.g. --only pages, on a copy of a firm-scale database",
    )
    parser.add_argument(
        "--broker",
        default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL for step 7's real Celery workers (a queue of the run's own on it; "
        "default $BENCH_BROKER_URL or redis://127.0.0.1:6379/0)",
    )
    return parser


def _environment() -> str:
    """Set the process's environment for Django and for the bench (tasks in-process, no KPI
    refresh after writes, no upload limit); the database URL."""
    url = os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_site.settings")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks in-process: the bench measures the code
    # ...so the KPI tile's background refresh would run inside each step it follows: not timed.
    os.environ["BILLING_KPI_REFRESH_AFTER_WRITES"] = "0"
    # The upload limit (50 MB by default) guards the web form; a firm's 800,000-row export is
    # ~77 MB, so the bench lifts it for the command-line import it measures.
    os.environ.setdefault("BILLING_IMPORT_MAX_BYTES", str(1 << 34))
    return url


def _database(args: argparse.Namespace, url: str) -> None:
    from bench import db

    if args.reuse_db:
        log(f"scale {args.scale}: reusing database {db.parse(url)['dbname']} as it is")
    else:
        log(f"scale {args.scale}: resetting database {db.parse(url)['dbname']}")
        db.reset_database(url)


def _django() -> float:
    """Set Django up and migrate; the run's start (perf_counter), taken before the migration."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    # Measure what production runs: no per-query logging of DEBUG.
    settings.DEBUG = False
    return started


def _results(ctx: Context) -> dict[str, Any]:
    from bench import fixtures, harness

    files = ctx.files
    return {
        "scale": ctx.args.scale,
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


def _run_cases(ctx: Context, results: dict[str, Any], started: float) -> None:
    from bench.steps import CASES

    only = {n.strip() for n in ctx.args.only.split(",") if n.strip()}
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
        # After every step: a long run (xl) stopped part way still leaves what it measured.
        _write(ctx, results, started, complete=False)


def _write(ctx: Context, results: dict[str, Any], started: float, *, complete: bool) -> None:
    from bench.report import write_results

    results["data"].update(ctx.data)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["complete"] = complete
    write_results(results, ctx.args.output_dir)


if __name__ == "__main__":
    sys.exit(main())
