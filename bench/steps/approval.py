"""7. Batch approval of the run's drafts by the real background job, and their final PDFs by real
Celery workers (1, then 2), beside WeasyPrint's own throughput on the same HTML with as many
processes (issue 16).

Runs last: it approves the period's drafts (the review page of step 6 shows them as drafts).
Half of the drafts are approved with 1 worker, the other half with 2 (an approved invoice's
final PDF is frozen, so none is approved or rendered twice). Each round starts `workers` worker
processes (`celery -A billing_site worker --concurrency 1`, prefork) on the broker given by
`--broker` (a Redis URL; a queue of the run's own, so another worker on the same Redis never
takes a task), then starts the job as the review page does (`approval_job_start`, enqueued on
commit): a worker approves the drafts 50 per transaction and queues each batch's PDFs
(`render_invoice_pdf_task`: context, template, WeasyPrint PDF/A-3, Factur-X, storage), which
the workers render in parallel. The round ends when every invoice of it has its PDF stored.
The baseline renders the same invoices' HTML (after approval, so the same final HTML) with
WeasyPrint alone (`HTML(string).write_pdf()`, the same stylesheet and fonts) in as many forked
processes.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import processes
from bench.common import APPROVAL_DRAFTS, Context, bench_result, log, sql

_HTML: dict[int, str] = {}  # invoice id -> its HTML (read by forked baseline workers)
READY_S = 120  # a worker that is not ready by then is reported as an error


def _render_html(pk: int) -> int:
    from weasyprint import HTML

    from core.pdf import TEMPLATES_DIR, font_config, stylesheet
    from invoicing.pdf import STYLESHEETS

    HTML(string=_HTML[pk], base_url=TEMPLATES_DIR.as_uri() + "/").write_pdf(
        stylesheets=[stylesheet(*STYLESHEETS)], font_config=font_config()
    )
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


# -- real Celery workers ---------------------------------------------------------------------------


class Workers:
    """`count` worker processes (`celery -A billing_site worker --concurrency 1`) on `queue`."""

    def __init__(self, count: int, *, broker: str, queue: str, url: str, log_dir: Path) -> None:
        from django.conf import settings

        env = dict(os.environ)
        env.update(
            DATABASE_URL=url,
            CELERY_BROKER_URL=broker,
            CELERY_QUEUE=queue,
            DEBUG="0",  # as in production: no per-query log in the workers
            SECRET_KEY=os.environ.get("SECRET_KEY", "bench"),
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            LOG_LEVEL="WARNING",
        )
        self.procs = [
            processes.Worker(
                env,
                log_dir / f"worker-{queue}-{k}.log",
                *("--concurrency", "1", "--pool", "prefork", "-Q", queue),
                *("-n", f"bench{k}-{queue}@%h", "--loglevel", "INFO", *processes.QUIET),
            )
            for k in range(count)
        ]

    def start(self) -> None:
        processes.start_all(self.procs, READY_S)

    def alive(self) -> None:
        for proc in self.procs:
            proc.check()

    def stop(self) -> None:
        processes.stop_all(self.procs, 60)


@contextmanager
def broker(url: str, queue: str) -> Iterator[None]:
    """This process's Celery app publishing to `url` on `queue` (the bench otherwise runs its
    tasks eagerly, in-process), restored afterwards; a broker that does not answer fails here,
    not as a lost on-commit publish."""
    from billing_site.celery import app

    with processes.celery_publishing_to(url, queue):
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=2)
        yield


def _round(ids, versions, user, period, workers: Workers) -> dict[str, Any]:
    """Start the approval job for `ids`, wait until every PDF is stored; the round's times."""
    from django.db import transaction

    from invoicing.models import ApprovalJob, Invoice
    from invoicing.services.approval_batch import approval_job_start

    limit = max(600.0, 30.0 * len(ids))
    started = time.perf_counter()
    with transaction.atomic():
        job = approval_job_start(period=period, user=user, versions={k: versions[k] for k in ids})
    first = None
    while True:
        time.sleep(0.25)
        workers.alive()
        status = ApprovalJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
        if status == ApprovalJob.Status.FAILED:
            raise RuntimeError(f"approval job failed: {ApprovalJob.objects.get(pk=job.pk).error}")
        stored = Invoice.objects.filter(pk__in=ids).exclude(pdf="").count()
        now = time.perf_counter()
        if stored and first is None:
            first = (now, stored)
        if stored == len(ids) and status == ApprovalJob.Status.DONE:
            break
        if now - started > limit:
            raise RuntimeError(f"{stored} of {len(ids)} PDFs stored after {limit:.0f} s")
    job = ApprovalJob.objects.get(pk=job.pk)
    approve_s = (job.finished_at - job.started_at).total_seconds()
    return {
        "job": job,
        "seconds": now - started,
        "approve_s": approve_s,
        "first": first,
        "end": now,
    }


def case_approval(ctx: Context):
    from bench import harness
    from core.dates import period_bounds
    from invoicing.models import Invoice
    from invoicing.services import approval_batch

    period = period_bounds(ctx.files.firm.start)[0]
    user = _approver()
    versions = dict(
        Invoice.objects.filter(period=period, status="draft").values_list("pk", "version")
    )
    if len(versions) < 4:
        raise RuntimeError(f"only {len(versions)} drafts for {period:%Y-%m} to approve")
    _continue_numbering()
    ids = sorted(versions)[: APPROVAL_DRAFTS[ctx.args.scale]]
    half = len(ids) // 2
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    cand = harness.Side("approval job + render_invoice_pdf_task on real Celery workers")
    base = harness.Side("WeasyPrint HTML(string).write_pdf() of the same HTML, same processes")
    per: dict[str, Any] = {"broker": ctx.args.broker.rsplit("@", 1)[-1], "queue": queue}
    approved = 0
    with broker(ctx.args.broker, queue):
        for workers, chunk in ((1, ids[:half]), (2, ids[half:])):
            pool = Workers(
                workers,
                broker=ctx.args.broker,
                queue=queue,
                url=ctx.url,
                log_dir=ctx.args.output_dir,
            )
            figures, r, base_s = _measured_round(pool, chunk, versions, user, period)
            per.update(figures)
            approved += r["job"].approved
            n = len(chunk)
            cand.samples.append(harness.Sample(r["seconds"] / n, 0, harness._peak_mb()))
            base.samples.append(harness.Sample(base_s / n, 0, harness._peak_mb()))
    _HTML.clear()
    stored = Invoice.objects.filter(pk__in=ids).exclude(pdf="").count()
    per.update(approved=approved, approval_batch=approval_batch.BATCH, pdfs_stored=stored)
    per["drafts_in_period"] = len(versions)
    per["approved_per_s"] = per["approved_per_s_1_worker"]
    per["measured_at"] = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    ctx.data["approval"] = per
    yield bench_result(
        "approval",
        len(ids),
        cand,
        base,
        same=stored == len(ids) == approved,
        notes="Seconds per invoice, from starting the job to the last PDF stored (median over "
        "the 1- and 2-worker rounds); the workers' queries are not counted here. same_result: "
        "every draft approved and every approved invoice has its PDF stored.",
        **per,
    )


def _approver():
    """The bench's billing admin who approves (made the first time)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from core import roles

    user, created = get_user_model().objects.get_or_create(username="bench-approver")
    if created:
        user.groups.add(Group.objects.get(name=roles.BILLING_ADMIN))
    return user


def _measured_round(
    pool: Workers, chunk: list[int], versions, user, period
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """One round with `pool`'s workers, then WeasyPrint alone on the same final HTML in as many
    processes: (the round's figures, the round, the baseline's seconds)."""
    from django.template.loader import render_to_string

    from invoicing.models import Invoice
    from invoicing.pdf import invoice_context

    workers = len(pool.procs)
    load_before = os.getloadavg()[0]
    try:
        pool.start()
        r = _round(chunk, versions, user, period, pool)
    finally:
        pool.stop()
    for invoice in Invoice.objects.select_related("account").filter(pk__in=chunk):
        _HTML[invoice.pk] = render_to_string("invoicing/pdf/invoice.html", invoice_context(invoice))
    base_s = _pool_time(_render_html, chunk, workers)
    n = len(chunk)
    first_t, first_n = r["first"]
    figures = {
        f"invoices_{workers}_worker": n,
        f"approved_per_s_{workers}_worker": round(r["job"].approved / r["approve_s"], 1),
        f"rendered_per_s_{workers}_worker": round(n / r["seconds"], 2),
        f"rendered_per_s_per_worker_{workers}_worker": round(n / r["seconds"] / workers, 2),
        f"steady_rendered_per_s_{workers}_worker": (
            round((n - first_n) / (r["end"] - first_t), 2) if n > first_n else None
        ),
        f"weasyprint_per_s_{workers}_worker": round(n / base_s, 2),
        f"load_{workers}_worker": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    log(
        f"  {workers} worker(s): {n} approved in {r['approve_s']:.1f} s, all {n} PDFs "
        f"stored {r['seconds']:.1f} s after the job was started: {n / r['seconds']:.2f} "
        f"PDFs/s vs WeasyPrint {n / base_s:.2f}/s (load {load_before:.1f})"
    )
    return figures, r, base_s
