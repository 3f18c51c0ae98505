"""Batch approval of a period as a background job (issue 16): gapless numbers per batch, refusals
listed and skipped, PDFs rendered after commit (rendering until stored, never sent before)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import TestCase
from django.utils import timezone

from core import runs
from core.errors import BillingError
from invoicing import services
from invoicing.models import ApprovalJob, EntryBilling, Invoice, InvoiceAdjustment
from invoicing.services import approval_batch
from tests.invoicing.helpers import JAN
from tests.invoicing.test_run_queries import build_groups

# Sends here go out without a preview: every mail template approved (tests/conftest.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("approved_mail")]


@pytest.fixture(autouse=True)
def media(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)


def drafts_of_january(n: int) -> dict[int, int]:
    build_groups(n, tag="a")
    services.invoice_run_generate(period=JAN)
    return dict(Invoice.objects.filter(status="draft").values_list("pk", "version"))


def test_job_approves_in_batches_with_gapless_numbers_then_renders(
    billing_admin, second_billing_admin, monkeypatch
):
    monkeypatch.setattr(approval_batch, "BATCH", 3)  # 7 drafts: batches of 3, 3, 1
    versions = drafts_of_january(7)
    ids = sorted(versions)
    # One draft adjusted by this admin (four eyes), one reviewed at an old version.
    InvoiceAdjustment.objects.create(
        invoice_id=ids[1],
        line_id=0,
        kind="add",
        user=billing_admin,
        created_at=Invoice.objects.get(pk=ids[1]).created_at,
        version=1,
        after_description="x",
        after_amount=1,
        reason="test",
    )
    versions[ids[4]] += 1  # a version the draft never had
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        job = approval_batch.approval_job_start(period=JAN, user=billing_admin, versions=versions)
    assert job.status == "queued" and job.total == 7
    assert len(queued) == 1  # the job is enqueued once the row is committed

    rendered: list[int] = []
    monkeypatch.setattr(
        "invoicing.services.approval_batch.render_invoice_pdf_task.delay", rendered.append
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        approval_batch.approval_job_run(job.pk)
    job.refresh_from_db()
    assert (job.status, job.approved, job.refused) == ("done", 5, 2)
    assert {r[0] for r in job.refusals} == {ids[1], ids[4]}
    approved = Invoice.objects.filter(status="approved").order_by("id")
    # Gapless, in id order, over the three batches.
    assert [i.number_seq for i in approved] == [1, 2, 3, 4, 5]
    assert [i.pk for i in approved] == [i for i in ids if i not in (ids[1], ids[4])]
    assert all(i.approved_by == billing_admin and i.parties for i in approved)
    entries = EntryBilling.objects.filter(invoice__in=approved)
    assert entries.exists() and not entries.filter(entry__locked=False).exists()
    # Rendering: queued after each batch's commit; until a worker stores it, not sendable.
    assert sorted(rendered) == [i.pk for i in approved]
    first = approved[0]
    assert first.pdf_status == "rendering"
    with pytest.raises(BillingError, match="still rendering"):
        services.invoice_send(invoice=first, user=billing_admin)
    for pk in rendered:  # what the workers do
        services.invoice_pdf_store(invoice_id=pk)
    first.refresh_from_db()
    assert first.pdf_status == "ready" and first.pdf_sha256
    progress = approval_batch.approval_job_progress(job)
    assert (progress["approved"], progress["refused"], progress["rendering"]) == (5, 2, 0)
    # History names the approver on every approved invoice.
    assert set(
        Invoice.history.filter(status="approved").values_list("history_user", flat=True)
    ) == {billing_admin.pk}

    # A second delivery of the task: nothing approved twice, nothing refused twice. Once done,
    # a no-op; left running by a worker that died (stale heartbeat), claimed and resumed.
    approval_batch.approval_job_run(job.pk)
    stale = timezone.now() - runs.stale_after() - dt.timedelta(seconds=1)
    ApprovalJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
    again = approval_batch.approval_job_run(job.pk)
    assert (again.approved, again.refused) == (5, 2)
    assert Invoice.objects.filter(status="approved").count() == 5

    # The other admin approves the adjusted draft; the number continues without a gap.
    other = approval_batch.approval_job_start(
        period=JAN, user=second_billing_admin, versions={ids[1]: versions[ids[1]]}
    )
    approval_batch.approval_job_run(other.pk)
    assert Invoice.objects.get(pk=ids[1]).number_seq == 6


def test_job_needs_a_person_and_drafts(billing_admin):
    with pytest.raises(BillingError):
        approval_batch.approval_job_start(period=JAN, user=None, versions={1: 1})
    with pytest.raises(BillingError):
        approval_batch.approval_job_start(period=JAN, user=billing_admin, versions={})


def test_review_page_approves_more_than_twenty_drafts_in_a_job(client_for, billing_admin):
    from django.urls import reverse

    versions = drafts_of_january(21)
    client = client_for(billing_admin)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the job runs as the worker would
        response = client.post(
            reverse("invoicing:approve_many"),
            {"ids": [f"{pk}:{v}" for pk, v in versions.items()], "period": "2026-01"},
        )
    assert response.status_code == 302
    job = ApprovalJob.objects.get()
    assert (job.status, job.total, job.approved, job.started_by) == ("done", 21, 21, billing_admin)
    status = client.get(reverse("invoicing:approval_job", args=[job.pk])).json()
    assert (status["approved"], status["refused"], status["rendering"]) == (21, 0, 0)
    assert Invoice.objects.exclude(pdf="").count() == 21  # rendered after each batch's commit
