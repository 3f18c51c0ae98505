"""Resume runs whose worker died, and re-send runs whose task message was lost.

The run row in the database is the truth (core/runs.py). Two ways a run stops moving:
- its worker died (SIGKILL of the whole worker, the machine lost): the run stays `running` and
  its heartbeat stops. `dead_runs_reclaim` (beat every 30 s) puts a run whose heartbeat is older
  than RUN_STALE_SECONDS back to `queued` and sends its task again, so it is resumed within
  about two minutes instead of after the broker's one-hour visibility timeout;
- its message was lost (a worker killed between taking the message off the queue and recording
  it as unacknowledged, or a Redis restart without persistence while the run was queued,
  docs/reliability.md): the run stays `queued`. `stale_runs_requeue` (beat every 10 minutes)
  sends it again.
The same holds for the three kinds of run: invoice runs, reconciliation runs and approval jobs
(`KINDS`). Every run task is idempotent and claims its run first, so a duplicate delivery is a
no-op.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from core import runs
from invoicing.models import ApprovalJob, Invoice, InvoiceRun
from timesheets.models import ReconciliationRun


def _kinds() -> list[tuple[str, type[runs.RunBase], Callable[[int], object]]]:
    """Each kind of run: its key in the sweeps' answers, its model, and how its task is sent."""
    from invoicing.tasks import approve_period_task, generate_invoices_task
    from timesheets.tasks import reconcile_task

    return [
        ("invoice_runs", InvoiceRun, generate_invoices_task.delay),
        ("reconciliation_runs", ReconciliationRun, lambda pk: reconcile_task.delay(run_id=pk)),
        ("approval_jobs", ApprovalJob, approve_period_task.delay),
    ]


def dead_runs_reclaim() -> dict[str, list[int]]:
    """Re-queue and re-send every running run whose worker has stopped beating."""
    kinds = _kinds()
    requeued = {
        key: [
            pk
            for pk in runs.dead_runs(model).values_list("pk", flat=True)
            if runs.run_requeue(model, pk)
        ]
        for key, model, _ in kinds
    }
    for key, _, send in kinds:
        for run_id in requeued[key]:
            send(run_id)
    return requeued


def stale_runs_requeue(
    *, queued_for: dt.timedelta = dt.timedelta(minutes=10)
) -> dict[str, list[int]]:
    """Send the task of every stale run again; return the ids re-sent, per kind."""
    from invoicing.tasks import render_invoice_pdf_task

    dead = dead_runs_reclaim()
    sent: dict[str, list[int]] = {}
    for key, model, send in _kinds():
        lost = list(runs.lost_queued(model, queued_for).values_list("pk", flat=True))
        for run_id in lost:
            send(run_id)
        sent[key] = sorted(set(dead[key]) | set(lost))
    # Approved invoices whose final PDF was never stored (the render task was lost, or the broker
    # was down when the approval committed). Rendering is idempotent.
    unrendered = list(
        Invoice.objects.filter(
            status__in=sorted(Invoice.FINAL_STATUSES),
            pdf="",
            approved_at__lt=timezone.now() - dt.timedelta(minutes=2),
        ).values_list("pk", flat=True)
    )
    for invoice_id in unrendered:
        render_invoice_pdf_task.delay(invoice_id)
    return {**sent, "unrendered_invoices": unrendered}
