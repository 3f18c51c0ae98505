"""Large uploads are checked and imported in the background (SPEC 1.4 upload pages): a Celery task
runs the same all-or-nothing import while the page shows a progress bar that polls a small JSON
endpoint. Both steps of an upload go there: the "Check file" dry run (``dry_run=True``: nothing is
written, the file stays for the import, and the job keeps the preview rows the upload page then
shows) and the confirmed import. So a firm-size file never runs inside a web request (gunicorn's
timeout is 120 s; a million-row dry run takes over a minute).

``is_large(path)``: the file has more than ``IMPORT_BACKGROUND_ROWS`` lines (default 5,000; an
XLSX by its sheet's rows). ``start(kind, run, entry, user, dry_run)`` records an ``ImportJob`` and
enqueues ``core.tasks.run_import_job`` after commit. ``run(job_id)`` (the task's body) imports the
file with the upload's options; the import function's module names its ``SOURCES`` and, for a
dry run, may name ``preview_rows(path, options, result)`` (JSON-able preview rows; otherwise the
first rows as the reader normalizes them). Progress is written through a second database
connection in autocommit, so it is visible while the import's own transaction is still open; the
import's rows become visible only when it commits, and a rejected file writes nothing but the
job's outcome.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.models import ImportJob

log = logging.getLogger(__name__)
PROGRESS_EVERY = 2000  # rows between progress writes
XLSX_MAGIC = b"PK\x03\x04"


def background_rows() -> int:
    return int(getattr(settings, "IMPORT_BACKGROUND_ROWS", 5000))


def estimate_rows(path: str) -> int:
    """Data rows in the file, roughly (line breaks, or the XLSX sheet's row count)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if head == XLSX_MAGIC:
            return _xlsx_rows(path)
        handle.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(lines - 1, 0)


def _xlsx_rows(path: str) -> int:
    try:
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            return max((book.active.max_row or 1) - 1, 0)  # type: ignore[union-attr]
        finally:
            book.close()
    except Exception:  # an unreadable workbook: the import itself reports why
        return 0


def is_large(path: str) -> bool:
    return estimate_rows(path) > background_rows()


def runner_path(run: Any) -> str:
    return f"{run.__module__}.{run.__qualname__}"


def start(
    *, kind: str, run: Any, entry: dict[str, Any], user: Any, dry_run: bool = False
) -> ImportJob:
    """Record the job and enqueue it once the request's transaction commits."""
    from core.tasks import run_import_job

    job = ImportJob.objects.create(
        kind=kind,
        user=user if getattr(user, "pk", None) else None,
        file_name=entry["name"][:255],
        path=entry["path"],
        runner=runner_path(run),
        choices=entry["choices"],
        dry_run=dry_run,
        rows_total=estimate_rows(entry["path"]),
    )
    transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


class Progress:
    """``progress(rows, phase)`` as the importers call it: written every PROGRESS_EVERY rows and
    at each new phase, on a connection of its own (autocommit)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.rows = 0
        self.phase = ""
        self.connection: Any = None

    def __call__(self, rows: int, phase: str = "reading") -> None:
        if phase == self.phase and rows - self.rows < PROGRESS_EVERY:
            return
        self.rows, self.phase = rows, phase
        if self.connection is None:
            self.connection = connections.create_connection("default")
        with self.connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_importjob SET rows_done = %s, phase = %s WHERE id = %s",
                [rows, phase, self.job_id],
            )

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def run(job_id: int) -> None:
    """The task's body; a redelivered task finds its job no longer queued and does nothing."""
    from core.import_pages import options_from_choices

    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, phase="reading"
    )
    if not claimed:
        return
    job = ImportJob.objects.select_related("user").get(pk=job_id)
    progress = Progress(job.pk)
    rows: list[Any] = []
    try:
        module = job.runner.rsplit(".", 1)[0]
        runner = import_string(job.runner)
        options = options_from_choices(job.kind, import_string(f"{module}.SOURCES"), job.choices)
        result = runner(
            file=job.path,
            user=job.user,
            dry_run=job.dry_run,
            options=options,
            file_name=job.file_name,
            progress=progress,
        )
        if job.dry_run and result.ok:
            rows = _preview(module, job.path, options, result)
    except Exception:
        log.exception("import job %s failed", job.pk)
        _finish(job, ImportJob.Status.FAILED, {"errors": [{"line": 0, "column": "file", "message":
                "The import failed unexpectedly; nothing was written. Try again or ask "
                "an administrator to look at the log."}]})  # fmt: skip
        return
    finally:
        progress.close()
        if not job.dry_run:  # a check keeps the file for the import that may follow
            Path(job.path).unlink(missing_ok=True)
    job.import_record_id = result.import_id
    _finish(job, ImportJob.Status.DONE if result.ok else ImportJob.Status.REJECTED, {
        "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
        "deleted": result.deleted, "source": result.source, "error_count": len(result.errors),
        "errors": [e.as_dict() for e in result.errors[:200]], "notices": result.notices[:50],
        "unknown_header": result.unknown_header[:1000], "rows": rows,
    })  # fmt: skip


def _preview(module: str, path: str, options: Any, result: Any) -> list[Any]:
    """A dry run's preview rows, JSON-able: the import module's own ``preview_rows`` if it has
    one, else the first rows as the shared reader normalizes them (``{"line", "values"}``)."""
    from core.import_pages import preview_rows

    try:
        own = import_string(f"{module}.preview_rows")
    except ImportError:
        sources = import_string(f"{module}.SOURCES")
        return [{"line": r.line, "values": list(r.values)}
                for r in preview_rows(path, sources, options)]  # fmt: skip
    return list(own(path, options, result))


def _finish(job: ImportJob, status: str, result: dict[str, Any]) -> None:
    job.status, job.result, job.finished_at = status, result, timezone.now()
    if status == ImportJob.Status.DONE:
        job.phase, job.rows_done = "done", max(job.rows_total, job.rows_done)
    job.save(
        update_fields=["status", "result", "finished_at", "phase", "rows_done", "import_record"]
    )


def as_json(job: ImportJob) -> dict[str, Any]:
    """What the upload page's progress bar polls."""
    finished = job.status in (ImportJob.Status.DONE, ImportJob.Status.REJECTED,
                              ImportJob.Status.FAILED)  # fmt: skip
    total = max(job.rows_total, job.rows_done)
    percent = 100 if job.status == ImportJob.Status.DONE else (
        min(99, job.rows_done * 100 // total) if total else 0
    )  # fmt: skip
    return {
        "id": job.pk,
        "status": job.status,
        "phase": job.phase,
        "rows_done": job.rows_done,
        "rows_total": total,
        "percent": percent,
        "finished": finished,
        "result": job.result if finished else None,
    }


def result_of(job: ImportJob) -> Any:
    """A finished job's outcome as the ImportResult the upload page shows."""
    from core.imports import ImportResult, RowError

    data = job.result or {}
    return ImportResult(
        created=data.get("created", 0),
        updated=data.get("updated", 0),
        unchanged=data.get("unchanged", 0),
        deleted=data.get("deleted", 0),
        errors=[RowError(e["line"], e["column"], e["message"]) for e in data.get("errors", [])],
        dry_run=job.dry_run,
        notices=list(data.get("notices", [])),
        source=data.get("source", ""),
        import_id=job.import_record_id,
        unknown_header=list(data.get("unknown_header", [])),
    )
