"""Celery tasks for invoicing: thin, idempotent, ids in (STYLE: Celery). Each task imports its
service inside its body; the services import the tasks they enqueue (on commit)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from core import runs
from core.dates import firm_today, previous_month
from invoicing.models import InvoiceRun

logger = logging.getLogger(__name__)
# A dropped database connection raises OperationalError, then InterfaceError ("connection already
# closed") on the next query, e.g. while the run records its failure: both are transient.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def generate_invoices_task(self, run_id: int) -> None:
    """Run a recorded invoice run. A second delivery of a finished run is a no-op; a run that
    died half-way is simply run again (generation is idempotent). A delivery while another live
    worker holds the run (fresh heartbeat) waits for it to finish or go stale (core/runs.py)."""
    from invoicing.services import invoice_run_generate

    run = InvoiceRun.objects.filter(pk=run_id).first()
    if run is None or run.status == InvoiceRun.Status.DONE:
        return
    try:
        invoice_run_generate(period=run.period, user=run.started_by, run=run)
    except runs.RunBusy:
        # Another worker holds it: look again once its heartbeat would have gone stale.
        raise self.retry(countdown=runs.stale_after().total_seconds(), max_retries=10) from None
    except TRANSIENT:
        raise  # transient: retried
    except Exception:  # recorded on the run (status failed, error); retrying will not help
        logger.exception("invoice run %s failed", run_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def generate_previous_month_task() -> None:
    """Monthly beat: invoice the previous month (twin of `generate_invoices --period`)."""
    period = previous_month(firm_today())
    run = InvoiceRun.objects.create(period=period)
    generate_invoices_task(run.pk)  # in this worker, synchronously


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def requeue_stale_runs_task() -> dict[str, list[int]]:
    """Beat job (twin command: `requeue_stale_runs`): re-send runs whose task message was lost,
    and resume runs whose worker died (stale heartbeat)."""
    from invoicing.recovery import stale_runs_requeue

    return stale_runs_requeue()


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def reclaim_dead_runs_task() -> dict[str, list[int]]:
    """Beat job every 30 s: resume runs whose worker died (heartbeat older than
    RUN_STALE_SECONDS), so a killed worker's run finishes within about two minutes."""
    from invoicing.recovery import dead_runs_reclaim

    return dead_runs_reclaim()


@shared_task(
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def render_invoice_pdf_task(invoice_id: int) -> None:
    """Render and store an approved invoice's final PDF (after the approval committed). A second
    delivery finds the PDF stored and does nothing."""
    from invoicing.services import invoice_pdf_store

    invoice_pdf_store(invoice_id=invoice_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def approve_period_task(job_id: int) -> None:
    """Run a recorded batch approval (`invoicing.services.approval_batch`); idempotent."""
    from invoicing.services.approval_batch import approval_job_run

    approval_job_run(job_id)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def render_draft_preview_task(invoice_id: int, version: int) -> None:
    """Render the watermarked preview of a draft at `version` into the preview cache."""
    from invoicing.previews import preview_render

    preview_render(invoice_id=invoice_id, version=version)
