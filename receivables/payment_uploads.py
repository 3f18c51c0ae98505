"""The payments upload page's pending uploads (receivables.views.payment_upload), and large ones on
the worker: a payments file or bank statement over IMPORT_BACKGROUND_ROWS is checked ("Check
file", a dry run) and imported by ``core.import_jobs`` as on the other upload pages, so a firm-size
file never runs inside the request. The check's page comes back to the upload page
(``?checked=<job>``), which shows its preview for the upload still pending in the session.

The upload waits in MEDIA_ROOT under a random token kept in the session (``payment_upload_<token>``
with ``_choices``, ``_name`` and, while checked in the background, ``_job``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from core import import_jobs
from core.models import ImportJob
from receivables.sources import SOURCES

__all__ = ["SOURCES", "checked", "forget", "preview_rows", "run_import", "start", "upload_path"]


def run_import(**kwargs: Any) -> Any:
    """The payment import as a background job runs it (the job finds SOURCES in this module)."""
    from receivables.services import payment_import

    return payment_import(**kwargs)


def preview_rows(path: str, options: Any, result: Any) -> list[dict[str, Any]]:
    """A background check's preview (the first parsed payments, ``result.preview``) as JSON."""
    return [
        {
            "line": p.line,
            "external_id": p.external_id,
            "date": p.date.isoformat(),
            "account": [p.account.external_id, p.account.name] if p.account else None,
            "found_by": p.found_by,
            "amount": str(p.amount),
            "currency": p.currency,
            "reference": p.reference,
            "existing": p.existing is not None,
        }
        for p in result.preview
    ]


def _row(data: dict[str, Any]) -> SimpleNamespace:
    account = data["account"]
    return SimpleNamespace(
        **{**data, "date": dt.date.fromisoformat(data["date"]), "amount": Decimal(data["amount"]),
           "account": SimpleNamespace(external_id=account[0], name=account[1]) if account
           else None},
    )  # fmt: skip


def start(
    request: HttpRequest, *, token: str, path: Path, choices: dict[str, str], name: str,
    dry_run: bool,
) -> HttpResponse:  # fmt: skip
    """Hand a large upload to the worker and follow it on the job page. A check keeps the upload
    pending (the job is remembered with it); the import forgets it (the worker removes the file).
    """
    job = import_jobs.start(
        kind="payments", run=run_import, user=request.user, dry_run=dry_run,
        entry={"name": name, "path": str(path), "choices": choices},
    )  # fmt: skip
    if dry_run:
        request.session[f"payment_upload_{token}_job"] = job.pk
    else:
        for suffix in ("", "_choices", "_name", "_job"):
            request.session.pop(f"payment_upload_{token}{suffix}", None)
    return redirect("import_job", pk=job.pk)


def checked(request: HttpRequest, pk: str) -> tuple[str, Path, dict[str, str], str, Any] | None:
    """The finished background check ``pk`` of an upload pending in this session: (token, path,
    choices, file name, its ImportResult with the preview rows), or None."""
    job = ImportJob.objects.filter(
        pk=pk if pk.isdigit() else 0, kind="payments", dry_run=True, finished_at__isnull=False
    ).first()
    if job is None:
        return None
    prefix = "payment_upload_"
    token = next(
        (k[len(prefix) : -len("_job")] for k, v in request.session.items()
         if k.startswith(prefix) and k.endswith("_job") and v == job.pk),
        None,
    )  # fmt: skip
    path = upload_path(request, token) if token else None
    if token is None or path is None:
        return None
    result = import_jobs.result_of(job)
    result.preview = [_row(r) for r in job.result.get("rows", [])]
    key = f"{prefix}{token}"
    return token, path, request.session.get(f"{key}_choices", {}), job.file_name, result


def forget(request: HttpRequest, token: str) -> None:
    if (path := upload_path(request, token)) is not None:
        path.unlink(missing_ok=True)
    for suffix in ("", "_choices", "_name", "_job"):
        request.session.pop(f"payment_upload_{token}{suffix}", None)


def upload_path(request: HttpRequest, token: str) -> Path | None:
    stored = request.session.get(f"payment_upload_{token}")
    if not stored:
        return None
    path = Path(stored)
    return path if path.is_file() else None
