"""3. The invoice run against one transaction of INSERT ... SELECTs."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from typing import Any

from django.db import connection

from bench import harness
from bench.common import (
    CANDIDATE_BUDGET_S,
    Context,
    bench_result,
    log,
    sql,
    unavailable,
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


class RefreshTimer:
    """Times the flag refresh an invoice run starts with (SPEC 3), inside the real run: the run's
    own `_refresh_flags` still does the work, wrapped by a clock and a query counter, so the
    run's time and queries split into the refresh and the rest in one call."""

    def __init__(self) -> None:
        self.samples: list[harness.Sample] = []

    def __enter__(self) -> RefreshTimer:
        from invoicing.services import runs

        self._real = real = runs._refresh_flags

        def timed(user) -> None:
            counter = harness.QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                real(user)
                seconds = time.perf_counter() - started
            self.samples.append(harness.Sample(seconds, counter.count, harness._peak_mb()))

        runs._refresh_flags = timed
        return self

    def __exit__(self, *exc: object) -> None:
        from invoicing.services import runs

        runs._refresh_flags = self._real


def _sides(period: dt.date) -> dict[str, harness.Side]:
    return {
        "run": harness.Side(
            f"invoicing.services.invoice_run_generate(period={period:%Y-%m}) less its flag "
            "refresh (timed inside the same call)"
        ),
        "base": harness.Side(
            "hand-written INSERT ... SELECT of the same invoices, lines and billings"
        ),
        "refresh": harness.Side(
            "the run's flag refresh: timesheets.services.reconciliation_run(as_of=today)"
        ),
        "refresh_base": harness.Side(
            "every flag rule in one SELECT, diffed against timesheets_flag (nothing to write)"
        ),
    }


def _compare(prints: dict[str, Any]) -> tuple[bool | None, dict[str, Any]]:
    final = prints.get("candidate") or prints.get("baseline") or [(0, ""), (0, ""), (0, "")]
    extra: dict[str, Any] = {
        "invoices": final[0][0],
        "lines": final[1][0],
        "entries_billed": final[2][0],
    }
    if "candidate" not in prints or "baseline" not in prints:
        return None, extra
    c, b = prints["candidate"], prints["baseline"]
    extra["same_invoices"], extra["same_lines"], extra["same_entry_billings"] = (
        c[0] == b[0],
        c[1] == b[1],
        c[2] == b[2],
    )
    if c != b:
        extra["counts_candidate"] = [x[0] for x in c]
        extra["counts_baseline"] = [x[0] for x in b]
    return c == b, extra


def case_invoice_run(ctx: Context):
    from bench import baselines
    from core.dates import firm_today, period_bounds
    from timesheets.reconciliation import RECONCILED_CODES

    period = period_bounds(ctx.files.firm.start)[0]
    sides = _sides(period)
    cand = sides["run"]
    try:
        from invoicing.services import invoice_run_generate
    except ImportError as exc:
        unavailable(cand, exc)
        invoice_run_generate = None
    prints: dict[str, Any] = {}
    totals: list[float] = []
    diffs: list[tuple[int, int, int]] = []

    def reset() -> None:
        sql(f"TRUNCATE {INVOICE_TABLES} RESTART IDENTITY CASCADE")

    def run_base(p: dt.date = period, record: bool = True) -> harness.Sample:
        # The run's as-of date is today (firm time zone), so is the refresh's.
        refresh, diff = harness.measure(
            lambda: baselines.flag_refresh(firm_today(), list(RECONCILED_CODES))
        )
        if record:  # the warm-up's figures are not the rounds'
            sides["refresh_base"].samples.append(refresh)
            diffs.append(diff)
        sample, _ = harness.measure(lambda: baselines.invoice_run(p, period_bounds(p)[1]))
        prints["baseline"] = invoice_fingerprint(p)
        return sample

    def run_cand(p: dt.date = period, record: bool = True) -> harness.Sample:
        with RefreshTimer() as timer:
            sample, run = harness.measure(lambda: invoice_run_generate(period=p, user=None))
        status = getattr(run, "status", "done")
        if status not in ("done", "DONE"):
            raise RuntimeError(f"invoice run ended {status}: {getattr(run, 'error', '')[:300]}")
        prints["candidate"] = invoice_fingerprint(p)
        (refresh,) = timer.samples
        if record:
            sides["refresh"].samples.append(refresh)
            totals.append(sample.seconds)
        return harness.Sample(
            sample.seconds - refresh.seconds, sample.queries - refresh.queries, sample.peak_rss_mb
        )

    _pair(ctx, period, sides, reset, run_base, run_cand if invoice_run_generate else None)
    yield from _results(ctx, period, sides, prints, totals, diffs)


def _pair(ctx: Context, period: dt.date, sides, reset, run_base, run_cand) -> None:
    """Warm-up on the month before the data (no entries yet, only the blocks and milestones of
    agreements that started earlier, so every code path runs at a fraction of the cost, and the
    first refresh as of today, which has work to do, is out of the timed rounds), then the
    alternating rounds."""
    before = (period - dt.timedelta(days=1)).replace(day=1)
    cand = sides["run"]
    warm = harness.warm_up_and_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=sides["base"],
        run_candidate=run_cand,
        run_baseline=run_base,
        reset=reset,
        warm_candidate=(lambda: run_cand(before, record=False)) if run_cand else None,
        warm_baseline=lambda: run_base(before, record=False),
        log=log,
        note=f"period {period:%Y-%m}; warm-up on {before:%Y-%m}",
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    if warm is not None:
        cand.extra["warmup_s"] = round(warm.seconds, 1)


def _results(ctx: Context, period, sides, prints, totals, diffs):
    cand, base = sides["run"], sides["base"]
    refresh, refresh_base = sides["refresh"], sides["refresh_base"]
    same, extra = _compare(prints)
    extra["period"] = f"{period:%Y-%m}"
    if totals and base.median:
        with_refresh = statistics.median(totals)
        extra["with_refresh_s"] = round(with_refresh, 3)
        extra["ratio_with_refresh"] = round(with_refresh / base.median, 2)
    ctx.data["invoice_run"] = extra
    yield bench_result(
        "invoice_run",
        extra["entries_billed"],
        cand,
        base,
        same=same,
        notes="The candidate's time and queries less those of the flag refresh it starts with "
        "(SPEC 3; row invoice_run_refresh), timed inside the same call; it prices and writes "
        "with history; the baseline reads the flags as they are. rows = entries billed.",
        **extra,
    )
    # Same result: after the run's refresh, the hand-written flag set has nothing to open,
    # re-open or resolve (the baseline runs first in each round, after the previous candidate).
    steady = bool(diffs) and refresh.status == "ok" and bool(refresh.samples)
    yield bench_result(
        "invoice_run_refresh",
        None,
        refresh,
        refresh_base,
        same=(all(d == (0, 0, 0) for d in diffs) if steady else None),
        notes="The flag refresh (a full reconciliation as of today) the invoice run starts "
        "with, timed inside the run; the baseline computes every flag rule in one SELECT and "
        "diffs it against the flags table. Steady state: nothing changed since the last run.",
        would_open_reopen_resolve=[list(d) for d in diffs],
    )
