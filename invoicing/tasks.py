"""Celery tasks for invoicing: thin, idempotent, ids in (STYLE: Celery). Each task imports its
service inside its body; the services import the tasks they enqueue (on commit)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from core import runs
from core.dates import firm_today, previous_month
from invoicing.models import ApprovalJob, InvoiceRun

logger = logging.getLogger(__name__)
# A dropped database connection raises OperationalError, then InterfaceError ("connection already
# closed") on the next query, e.g. while the run records its failure: both are transient.
TRANSIENT = (OperationalError, InterfaceError)
# The options of a run's task (`_carry_out`): acknowledged after it ends (a killed worker's task
# is delivered again), transient database errors retried with a backoff.
RUN_TASK: dict[str, Any] = dict(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)


@shared_task(**RUN_TASK)
def generate_invoices_task(self, run_id: int) -> None:
    """Run a recorded invoice run. A second delivery of a finished run is a no-op; a run that
    died half-way is simply run again (generation is idempotent). A delivery while another live
    worker holds the run (fresh heartbeat) waits for it to finish or go stale (core/runs.py)."""
    from invoicing.services import invoice_run_generate

    _carry_out(
        self,
        InvoiceRun,
        run_id,
        lambda run: invoice_run_generate(period=run.period, user=run.started_by, run=run),
    )


def _carry_out(task, model: type[runs.RunBase], run_id: int, work: Callable[[Any], Any]) -> None:
    """What a run's task does (core/runs.py): nothing for a finished (or deleted) run, else
    `work(run)`. A run another live worker holds is looked at again once that worker's
    heartbeat would have gone stale; a transient database error is retried; any other error is
    recorded on the run by its service (status failed) and logged: retrying would not help."""
    run = model.objects.filter(pk=run_id).first()
    if run is None or run.status == runs.RunStatus.DONE:
        return
    try:
        work(run)
    except runs.RunBusy:
        raise task.retry(countdown=runs.stale_after().total_seconds(), max_retries=10) from None
    except TRANSIENT:
        raise  # transient: retried
    except Exception:
        logger.exception("%s %s failed", model.__name__, run_id)


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


@shared_task(**RUN_TASK)
def approve_period_task(self, job_id: int) -> None:
    """Run a recorded batch approval (`invoicing.services.approval_batch`), as an invoice run:
    idempotent, claimed first, resumed by the dead-run sweep when its worker dies."""
    from invoicing.services.approval_batch import approval_job_run

    _carry_out(self, ApprovalJob, job_id, lambda job: approval_job_run(job.pk))


@shared_task(acks_late=True, autoretry_for=TRANSIENT, max_retries=3)
def render_draft_preview_task(invoice_id: int, version: int) -> None:
    """Render the watermarked preview of a draft at `version` into the preview cache."""
    from invoicing.previews import preview_render

    preview_render(invoice_id=invoice_id, version=version)
