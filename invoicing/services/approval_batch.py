"""Batch approval of a period in the background (issue 16).

`approval_job_start` records an `ApprovalJob` with the version of each draft the approver
reviewed and enqueues it once committed; `approval_job_run` (the task's body) approves the drafts
in batches of `BATCH`, one short transaction each: the drafts locked, the refusals of SPEC 3
checked per draft (`approval._check_approvable`, four eyes and version included), the entries
locked in one UPDATE, then the numbers taken last in one lock of the (series, year) row, so
they stay gapless and in id order; after each commit the final PDFs are rendered by workers in
parallel (`render_invoice_pdf_task`), each invoice `rendering` until its PDF is stored (it
cannot be sent before). A draft refused is listed on the job with the reason; the others go on.

The job has the lifecycle of every run (core/runs.py): claimed by one worker at a time, a
heartbeat while it works, resumed by the dead-run sweep (invoicing/recovery.py) when its worker
dies. Each batch records its counts in its own transaction, so a resumed job knows exactly what
the committed batches approved and refused; a draft approved is no longer a draft, so resuming
(or a second delivery) never takes a second number for it.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from core import runs
from core.errors import BillingError
from invoicing import numbering
from invoicing.einvoice.checks import einvoice_parties_for_approval
from invoicing.models import ApprovalJob, Invoice
from invoicing.services.approval import _check_approvable
from invoicing.tasks import approve_period_task, render_invoice_pdf_task
from timesheets.models import TimeEntry

BATCH = 50
APPROVED_FIELDS = [
    "parties",
    "number",
    "number_year",
    "number_seq",
    "status",
    "approved_by",
    "approved_at",
    "updated_at",
]


def approval_job_start(*, period, user, versions: dict[int, int]) -> ApprovalJob:
    """Record the job (drafts and the versions reviewed) and enqueue it after commit."""
    if user is None:
        raise BillingError("An invoice is approved by a person.")
    if not versions:
        raise BillingError("Select the drafts to approve.")
    job = ApprovalJob.objects.create(
        period=period.replace(day=1),
        started_by=user,
        versions={str(k): int(v) for k, v in versions.items()},
        total=len(versions),
    )
    transaction.on_commit(lambda: approve_period_task.delay(job.pk), robust=True)
    return job


def _approvable(drafts: list[Invoice], versions: dict[int, int], user, refusals) -> list[Invoice]:
    ok = []
    for invoice in drafts:
        try:
            _check_approvable(invoice, user=user, version=versions[invoice.pk])
            invoice.parties = einvoice_parties_for_approval(invoice)
        except BillingError as exc:
            refusals.append([invoice.pk, str(exc)])
            continue
        ok.append(invoice)
    return ok


def _approve_batch(job: ApprovalJob, ids: list[int], versions: dict[int, int]) -> None:
    """Approve the drafts `ids` in one transaction, which also records the job's progress (and a
    sign of life): a batch and its counts are committed together or not at all."""
    with transaction.atomic():
        done, refusals = _approve_drafts(ids, versions, job.started_by)
        job.refusals = [*job.refusals, *refusals]
        job.approved += done
        ApprovalJob.objects.filter(pk=job.pk).update(
            approved=F("approved") + done,
            refused=len(job.refusals),
            refusals=job.refusals,
            heartbeat_at=timezone.now(),
        )


def _approve_drafts(ids: list[int], versions: dict[int, int], user) -> tuple[int, list]:
    """Approve the drafts `ids` (inside the caller's transaction); returns (approved, refusals)."""
    refusals: list[list] = []
    drafts = list(
        Invoice.objects.select_for_update()
        .select_related("account")
        .filter(pk__in=ids, status=Invoice.Status.DRAFT)
        .order_by("id")
    )
    gone = set(ids) - {d.pk for d in drafts}
    refusals += [[pk, "It is no longer a draft."] for pk in sorted(gone)]
    ok = _approvable(drafts, versions, user, refusals)
    if not ok:
        return 0, refusals
    entries = list(TimeEntry.objects.filter(billing__invoice__in=ok, locked=False))
    for entry in entries:
        entry.locked = True
    if entries:
        bulk_update_with_history(entries, TimeEntry, ["locked"], batch_size=1000, default_user=user)
    # Numbers last, one lock per (series, year), in id order: gapless as one by one.
    by_year: dict[int, list[Invoice]] = defaultdict(list)
    for invoice in ok:
        by_year[invoice.invoice_date.year].append(invoice)
    now = timezone.now()
    for year, invoices in sorted(by_year.items()):
        numbers = numbering.take_numbers(series=numbering.INVOICE, year=year, count=len(invoices))
        for invoice, (seq, number) in zip(invoices, numbers, strict=True):
            invoice.number, invoice.number_year, invoice.number_seq = number, year, seq
            invoice.status = Invoice.Status.APPROVED
            invoice.approved_by, invoice.approved_at, invoice.updated_at = user, now, now
    bulk_update_with_history(ok, Invoice, APPROVED_FIELDS, batch_size=1000, default_user=user)
    pks = [invoice.pk for invoice in ok]
    # Rendered by workers in parallel once committed; a lost message is sent again by the
    # stale-work sweep (invoicing.recovery).
    transaction.on_commit(lambda: [render_invoice_pdf_task.delay(pk) for pk in pks], robust=True)
    return len(ok), refusals


def approval_job_run(job_id: int) -> ApprovalJob | None:
    """Run a recorded approval job; a finished job is left as it is. The job is claimed first
    (core.runs.run_claim): one another live worker holds raises runs.RunBusy. A job resumed after
    its worker died, or delivered twice, skips what the committed batches approved or refused."""
    job = ApprovalJob.objects.filter(pk=job_id).first()
    if job is None or job.status == ApprovalJob.Status.DONE:
        return job
    if not runs.run_claim(ApprovalJob, job_id):
        raise runs.RunBusy(f"approval job {job_id} is done or held by a live worker")
    job = ApprovalJob.objects.select_related("started_by").get(
        pk=job_id
    )  # as the last commit left it
    try:
        with runs.heartbeat(ApprovalJob, job_id):
            todo = _remaining(job)
            for start in range(0, len(todo), BATCH):
                _approve_batch(job, todo[start : start + BATCH], job.versions_by_id)
    except Exception as exc:
        runs.run_fail(ApprovalJob, job_id, exc)
        raise
    runs.run_finish(ApprovalJob, job_id)
    job.refresh_from_db()
    return job


def _remaining(job: ApprovalJob) -> list[int]:
    """The drafts of `job` that no committed batch of it approved or refused, in id order."""
    versions = job.versions_by_id
    done_ids = {r[0] for r in job.refusals}
    if job.approved:
        done_ids |= set(
            Invoice.objects.filter(pk__in=versions, approved_by=job.started_by)
            .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.REJECTED])
            .values_list("pk", flat=True)
        )
    return sorted(set(versions) - done_ids)


def approval_job_progress(job: ApprovalJob) -> dict:
    """What the review screen polls: approved, refused, and how many PDFs are still rendering."""
    ids = [int(k) for k in job.versions]
    rendering = (
        Invoice.objects.filter(pk__in=ids, pdf="")
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.REJECTED])
        .count()
    )
    return {
        "id": job.pk,
        "period": f"{job.period:%Y-%m}",
        "status": job.status,
        "total": job.total,
        "approved": job.approved,
        "refused": job.refused,
        "rendering": rendering,
        "refusals": job.refusals,
    }
