"""Upload previews never confirmed expire (issue 17 item 10).

An upload page keeps the uploaded file between its dry-run preview and the confirm as a
`*.upload` file: core.import_pages under UPLOAD_DIR, the payment upload page under
MEDIA_ROOT/imports/. Such a file is deleted
- by `expire_upload_previews` (beat `expire-upload-previews`, hourly; twin command
  `expire_upload_previews`) once it is older than BILLING_PREVIEW_TTL_MINUTES (default 120);
- when its user logs out (the files named in the ending session).
Only `*.upload` files inside those folders are ever deleted, never one that a queued or running
background import (core.import_jobs) still has to read.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

UPLOAD_DIR = Path(tempfile.gettempdir()) / "billable-imports"
MEDIA_SUBDIR = "imports"
SUFFIX = ".upload"


def preview_ttl() -> dt.timedelta:
    return dt.timedelta(minutes=int(getattr(settings, "BILLING_PREVIEW_TTL_MINUTES", 120)))


def preview_dirs() -> list[Path]:
    return [UPLOAD_DIR, Path(settings.MEDIA_ROOT) / MEDIA_SUBDIR]


def _is_preview(path: Path) -> bool:
    if path.suffix != SUFFIX:
        return False
    resolved = path.resolve()
    return any(resolved.is_relative_to(d.resolve()) for d in preview_dirs())


def _previews() -> Iterator[Path]:
    for folder in preview_dirs():
        if folder.is_dir():
            yield from (p for p in folder.rglob(f"*{SUFFIX}") if p.is_file())


def _in_use() -> set[str]:
    """Files a background import (core.import_jobs) still has to read."""
    from core.models import ImportJob

    active = ImportJob.objects.filter(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
    )
    return {str(Path(p).resolve()) for p in active.values_list("path", flat=True)}


def expire_upload_previews(*, older_than: dt.timedelta | None = None) -> int:
    """Delete every preview file older than `older_than` (default: the TTL), except those a
    background import still reads; returns how many."""
    cutoff = time.time() - (older_than if older_than is not None else preview_ttl()).total_seconds()
    in_use = _in_use()
    removed = 0
    for path in _previews():
        if str(path.resolve()) in in_use:
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # confirmed or expired meanwhile
            continue
    return removed


def _paths_in(values: Iterable[Any]) -> Iterator[Path]:
    for value in values:
        if isinstance(value, dict):
            yield from _paths_in(value.values())
        elif isinstance(value, str) and value.endswith(SUFFIX):
            yield Path(value)


def forget_session_previews(session: Any) -> int:
    """Delete the preview files a session holds (on logout); returns how many."""
    removed = 0
    for path in _paths_in(dict(session).values()):
        if _is_preview(path) and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        forget_session_previews(session)
