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
Both run tasks are idempotent and claim their run first, so a duplicate delivery is a no-op.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from core import runs
from invoicing.models import Invoice, InvoiceRun
from timesheets.models import ReconciliationRun


def dead_runs_reclaim() -> dict[str, list[int]]:
    """Re-queue and re-send every running run whose worker has stopped beating."""
    from invoicing.tasks import generate_invoices_task
    from timesheets.tasks import reconcile_task

    invoice_ids = [
        pk
        for pk in runs.dead_runs(InvoiceRun).values_list("pk", flat=True)
        if runs.run_requeue(InvoiceRun, pk)
    ]
    reconcile_ids = [
        pk
        for pk in runs.dead_runs(ReconciliationRun).values_list("pk", flat=True)
        if runs.run_requeue(ReconciliationRun, pk)
    ]
    for run_id in invoice_ids:
        generate_invoices_task.delay(run_id)
    for run_id in reconcile_ids:
        reconcile_task.delay(run_id=run_id)
    return {"invoice_runs": invoice_ids, "reconciliation_runs": reconcile_ids}


def stale_runs_requeue(
    *, queued_for: dt.timedelta = dt.timedelta(minutes=10)
) -> dict[str, list[int]]:
    """Send the task of every stale run again; return the ids re-sent, per kind."""
    from invoicing.tasks import generate_invoices_task, render_invoice_pdf_task
    from timesheets.tasks import reconcile_task

    dead = dead_runs_reclaim()
    invoice_ids = list(runs.lost_queued(InvoiceRun, queued_for).values_list("pk", flat=True))
    reconcile_ids = list(
        runs.lost_queued(ReconciliationRun, queued_for).values_list("pk", flat=True)
    )
    for run_id in invoice_ids:
        generate_invoices_task.delay(run_id)
    for run_id in reconcile_ids:
        reconcile_task.delay(run_id=run_id)
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
    return {
        "invoice_runs": sorted(set(dead["invoice_runs"]) | set(invoice_ids)),
        "reconciliation_runs": sorted(set(dead["reconciliation_runs"]) | set(reconcile_ids)),
        "unrendered_invoices": unrendered,
    }
