"""7. Batch approval of the run's drafts and their final PDFs with 1 and 2 worker processes,
beside WeasyPrint's own throughput on the same HTML with as many processes (issue 16).

Runs last: it approves the period's drafts (the review page of step 6 shows them as drafts).
The approval is the background job's body (`approval_job_run`), timed in this process; the PDFs
are rendered by forked worker processes running the render task's body (`invoice_pdf_store`:
context, template, WeasyPrint, Factur-X, storage, the conditional UPDATE), pulling one invoice
at a time from a shared queue as Celery's prefork workers do. Half of the approved invoices are
rendered by 1 worker, the other half by 2 (a stored final PDF is frozen, so none is rendered
twice). The baseline renders the same invoices' HTML, produced beforehand, with WeasyPrint alone
(`HTML(string).write_pdf()`), with the same number of processes.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from bench.common import Context, bench_result, log, sql

_HTML: dict[int, str] = {}  # invoice id -> its HTML (read by forked baseline workers)


def _render_stored(pk: int) -> int:
    from invoicing.services import invoice_pdf_store

    invoice = invoice_pdf_store(invoice_id=pk)
    return 1 if invoice is not None and invoice.pdf else 0


def _render_html(pk: int) -> int:
    from weasyprint import HTML

    from core.pdf import TEMPLATES_DIR

    HTML(string=_HTML[pk], base_url=TEMPLATES_DIR.as_uri() + "/").write_pdf()
    return 1


def _pool_time(fn, ids: list[int], workers: int) -> float:
    """Wall seconds for `workers` forked processes to process `ids` (one at a time each)."""
    from django.db import connections

    connections.close_all()  # every child opens its own connection
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = sum(pool.imap_unordered(fn, ids, chunksize=1))
    seconds = time.perf_counter() - started
    if done != len(ids):
        raise RuntimeError(f"{len(ids) - done} of {len(ids)} renders stored nothing")
    return seconds


def _continue_numbering() -> None:
    """The receivables history holds numbered invoices written directly: numbering goes on
    after them, as after a migration from another system."""
    sql(
        "INSERT INTO invoicing_numbersequence (series, year, last) "
        "SELECT 'INV', number_year, max(number_seq) FROM invoicing_invoice "
        "WHERE number_year IS NOT NULL GROUP BY number_year "
        "ON CONFLICT (series, year) DO UPDATE SET last = GREATEST("
        "invoicing_numbersequence.last, EXCLUDED.last)"
    )


def case_approval(ctx: Context):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.template.loader import render_to_string

    from bench import harness
    from core import roles
    from core.dates import period_bounds
    from invoicing.models import ApprovalJob, Invoice
    from invoicing.pdf import invoice_context
    from invoicing.services import approval_batch

    period = period_bounds(ctx.files.firm.start)[0]
    user, created = get_user_model().objects.get_or_create(username="bench-approver")
    if created:
        user.groups.add(Group.objects.get(name=roles.BILLING_ADMIN))
    versions = dict(
        Invoice.objects.filter(period=period, status="draft").values_list("pk", "version")
    )
    if len(versions) < 4:
        raise RuntimeError(f"only {len(versions)} drafts for {period:%Y-%m} to approve")
    _continue_numbering()
    # The job's row as `approval_job_start` records it; run here, in this process, not by
    # the eager in-process Celery the bench uses (it would render every PDF in this process).
    job = ApprovalJob.objects.create(
        period=period,
        started_by=user,
        versions={str(k): v for k, v in versions.items()},
        total=len(versions),
    )
    queued: list[int] = []
    real_delay = approval_batch.render_invoice_pdf_task.delay
    approval_batch.render_invoice_pdf_task.delay = queued.append  # type: ignore[method-assign]
    try:
        approve, job = harness.measure(lambda: approval_batch.approval_job_run(job.pk))
    finally:
        approval_batch.render_invoice_pdf_task.delay = real_delay  # type: ignore[method-assign]
    if job.approved != len(versions):
        raise RuntimeError(f"approved {job.approved} of {len(versions)}: {job.refusals[:3]}")
    log(f"  approved {job.approved} drafts in {approve.seconds:.2f} s ({approve.queries} queries)")

    ids = sorted(queued)
    for invoice in Invoice.objects.select_related("account").filter(pk__in=ids):
        _HTML[invoice.pk] = render_to_string("invoicing/pdf/invoice.html", invoice_context(invoice))
    half = len(ids) // 2
    one, two = ids[:half], ids[half:]
    cand = harness.Side("invoice_pdf_store (render task body) in forked workers")
    base = harness.Side("WeasyPrint HTML(string).write_pdf() of the same HTML, same processes")
    per: dict[str, Any] = {}
    for workers, chunk in ((1, one), (2, two)):
        base_s = _pool_time(_render_html, chunk, workers)
        cand_s = _pool_time(_render_stored, chunk, workers)
        per[f"rendered_per_s_{workers}_worker"] = round(len(chunk) / cand_s, 2)
        per[f"weasyprint_per_s_{workers}_worker"] = round(len(chunk) / base_s, 2)
        per[f"invoices_{workers}_worker"] = len(chunk)
        cand.samples.append(harness.Sample(cand_s / len(chunk), 0, harness._peak_mb()))
        base.samples.append(harness.Sample(base_s / len(chunk), 0, harness._peak_mb()))
        log(
            f"  {workers} worker(s): {len(chunk) / cand_s:.1f} PDFs/s vs WeasyPrint {len(chunk) / base_s:.1f}/s"
        )
    stored = Invoice.objects.filter(pk__in=ids).exclude(pdf="").count()
    per.update(
        approved=job.approved,
        approval_s=round(approve.seconds, 3),
        approved_per_s=round(job.approved / approve.seconds, 1),
        approval_queries=approve.queries,
        approval_batch=approval_batch.BATCH,
        pdfs_stored=stored,
    )
    ctx.data["approval"] = per
    yield bench_result(
        "approval",
        len(ids),
        cand,
        base,
        same=stored == len(ids),
        notes="Seconds per invoice (median over the 1- and 2-worker rounds); same_result: every "
        "approved invoice has its PDF stored.",
        **per,
    )
