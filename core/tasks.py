"""Celery tasks of the foundation: the background import of a large upload (core.import_jobs)."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def run_import_job(job_id: int) -> None:
    from core import import_jobs

    import_jobs.run(job_id)
