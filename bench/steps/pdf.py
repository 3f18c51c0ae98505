"""4. A 1-page invoice PDF against WeasyPrint's trivial page."""

from __future__ import annotations

import statistics
from typing import Any

from bench.common import (
    BIG_INVOICE_LINES,
    Context,
    bench_result,
    log,
    unavailable,
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

    harness.warm_up_and_pair(
        reps=max(ctx.reps, 5),
        candidate=cand,
        baseline=base,
        run_candidate=run_cand if invoice_pdf else None,
        run_baseline=run_base,
        log=log,
    )
    extra: dict[str, Any] = {"pages": out.get("candidate_pages")}
    if cand.status == "ok" and cand.median:
        extra.update(_big_invoice(invoice_pdf, big, big_lines, ctx, cand.median, out))
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


def _big_invoice(
    invoice_pdf, big, lines: int, ctx: Context, one_s: float, out: dict[str, Any]
) -> dict[str, Any]:
    """The `lines`-line invoice's pages and render time (once at small scale, else the median of
    three), and the milliseconds each page past the first adds to the 1-page invoice's `one_s`."""
    from bench import harness

    extra: dict[str, Any] = {}
    try:
        times, pages = [], 0
        for _ in range(1 if ctx.args.scale == "small" else 3):
            sample, data = harness.measure(lambda: invoice_pdf(big))
            times.append(sample.seconds)
            pages = pdf_pages(data)
        big_s = statistics.median(times)
        extra.update(
            big_invoice_lines=lines,
            big_invoice_pages=pages,
            big_invoice_s=round(big_s, 3),
            big_invoice_peak_rss_mb=sample.peak_rss_mb,
        )
        if pages > (out.get("candidate_pages") or 1):
            extra["ms_per_extra_page"] = round(
                (big_s - one_s) * 1000 / (pages - out["candidate_pages"]), 1
            )
    except Exception as exc:  # noqa: BLE001
        extra["big_invoice_error"] = harness.error_text(exc, 300)
    return extra
