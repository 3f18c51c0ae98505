"""Re-send runs whose task message was lost.

With Redis as the broker a task message can be lost in two narrow windows: a worker killed between
taking the message off the queue and recording it as unacknowledged, and a Redis restart without
persistence while a run is still queued (docs/reliability.md). The run row in the database is the
truth: a run still `queued` (or `running` with no progress for longer than the broker's visibility
timeout) is sent again. Both run tasks are idempotent, so a duplicate delivery is a no-op.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from invoicing.models import Invoice, InvoiceRun
from timesheets.models import ReconciliationRun


def stale_runs_requeue(
    *, queued_for: dt.timedelta = dt.timedelta(minutes=10)
) -> dict[str, list[int]]:
    """Send the task of every stale run again; return the ids re-sent, per kind."""
    from invoicing.tasks import generate_invoices_task, render_invoice_pdf_task
    from timesheets.tasks import reconcile_task

    now = timezone.now()
    visibility = dt.timedelta(
        seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    )
    stale = Q(status="queued", created_at__lt=now - queued_for) | Q(
        status="running", started_at__lt=now - visibility - queued_for
    )
    invoice_ids = list(InvoiceRun.objects.filter(stale).values_list("pk", flat=True))
    reconcile_ids = list(ReconciliationRun.objects.filter(stale).values_list("pk", flat=True))
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
            approved_at__lt=now - dt.timedelta(minutes=2),
        ).values_list("pk", flat=True)
    )
    for invoice_id in unrendered:
        render_invoice_pdf_task.delay(invoice_id)
    return {
        "invoice_runs": invoice_ids,
        "reconciliation_runs": reconcile_ids,
        "unrendered_invoices": unrendered,
    }
