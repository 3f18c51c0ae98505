"""2. Reconciliation against one INSERT ... SELECT of every flag."""

from __future__ import annotations

from typing import Any

from bench.common import (
    CANDIDATE_BUDGET_S,
    Context,
    bench_result,
    log,
    sql,
    unavailable,
)
from bench.steps.imports import vacuum

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

    def run_base() -> harness.Sample:
        sample, _ = harness.measure(lambda: baselines.reconcile(ctx.as_of))
        seen["baseline"] = open_flags()
        return sample

    def run_cand() -> harness.Sample:
        sample, _ = harness.measure(lambda: reconciliation_run(as_of=ctx.as_of, user=None))
        seen["candidate"] = open_flags()
        return sample

    harness.warm_up_and_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if reconciliation_run else None,
        run_baseline=run_base,
        reset=_reset,
        log=log,
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    if cand.status == "ok":
        # The nightly case: nothing changed since the last run.
        sample, _ = harness.measure(lambda: reconciliation_run(as_of=ctx.as_of, user=None))
        ctx.recon_steady_s = sample.seconds
        cand.extra["rerun_no_change_s"] = round(sample.seconds, 4)
    else:
        _reset()
        run_base()
    same, extra = _compared(seen)
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


def _reset() -> None:
    """No flags, no flag history, no runs: the first run's starting point."""
    sql(
        "TRUNCATE timesheets_flag, timesheets_historicalflag, timesheets_reconciliationrun "
        "RESTART IDENTITY CASCADE"
    )


def _compared(seen: dict[str, set]) -> tuple[bool | None, dict[str, Any]]:
    """(same open flags on both sides?, the differences) once both sides ran."""
    if "candidate" not in seen or "baseline" not in seen:
        return None, {}
    c, b = seen["candidate"], seen["baseline"]
    extra = {
        "only_candidate": sorted(map(list, c - b))[:10],
        "only_baseline": sorted(map(list, b - c))[:10],
        "differences": len(c ^ b),
    }
    return c == b, extra
