"""3. The invoice run against one transaction of INSERT ... SELECTs."""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    warm = harness.warm_up_and_pair(
        reps=ctx.reps,
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if invoice_run_generate else None,
        run_baseline=run_base,
        reset=reset,
        warm_candidate=lambda: run_cand(before),
        warm_baseline=lambda: run_base(before),
        log=log,
        note=f"period {period:%Y-%m}; warm-up on {before:%Y-%m}",
        candidate_budget_s=CANDIDATE_BUDGET_S[ctx.args.scale],
    )
    if warm is not None:
        cand.extra["warmup_s"] = round(warm.seconds, 1)
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
