"""5. AR aging against one SQL query with FILTER buckets."""

from __future__ import annotations

import hashlib

from bench.common import (
    Context,
    bench_result,
    log,
    unavailable,
)
from bench.steps.imports import vacuum

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

    harness.warm_up_and_pair(
        reps=max(ctx.reps, 5),
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if aging_report else None,
        run_baseline=run_base,
        log=log,
    )
    same = None
    if "candidate" in seen and "baseline" in seen:
        same = seen["candidate"] == seen["baseline"]
    report = seen.get("candidate") or seen.get("baseline") or []
    yield bench_result(
        "aging",
        stats["invoices"],
        cand,
        base,
        same=same,
        notes=f"As of {as_of}; rows = invoices. same_result compares every report row "
        "(account, currency, five buckets, unapplied).",
        report_rows=len(report),
        # Every row's account, currency, buckets and unapplied: two runs on one database compare.
        report_sha256=hashlib.sha256(repr(report).encode()).hexdigest(),
        **stats,
    )
