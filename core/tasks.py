"""Celery tasks of the foundation (STYLE: Celery): thin, idempotent. The background import of a
large upload (core.import_jobs) and the expiry of upload previews (core.previews)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> None:
    from core import import_jobs

    import_jobs.run(job_id)


@shared_task(acks_late=True, max_retries=3)
def expire_upload_previews_task() -> int:
    """Beat job (twin command: `expire_upload_previews`): delete stale upload previews."""
    from core.previews import expire_upload_previews

    return expire_upload_previews()
