from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from agreements import selectors
from agreements.forms import ImportUploadForm
from agreements.importing import COLUMNS as AGREEMENT_COLUMNS
from agreements.importing import REQUIRED as AGREEMENT_REQUIRED
from agreements.services import agreement_import
from core.csvio import max_import_bytes, size_text
from core.imports import ImportResult
from core.roles import require


@require("agreements.view")
def agreement_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.agreement_list(q=q), 50).get_page(request.GET.get("page"))
    return render(request, "agreements/list.html", {"page": page, "q": q})


# --- upload pages for imports (shared with timesheets.import_views) ------------------------------


@dataclass(frozen=True)
class ImportPage:
    """One import's upload page: pick a file -> dry-run preview (counts and every error) -> confirm.

    The uploaded bytes wait in a private temp file between preview and confirm; the browser only
    holds a random token, looked up in the user's session (a token from another session is
    refused).
    """

    kind: str  # session key and temp file prefix
    title: str
    url_name: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    run: Callable[..., ImportResult]
    noun: str


UPLOAD_DIR = Path(tempfile.gettempdir()) / "billable-imports"
SESSION_KEY = "billable_imports"


def _pending(request: HttpRequest) -> dict[str, dict[str, str]]:
    return request.session.setdefault(SESSION_KEY, {})


def _forget(request: HttpRequest, kind: str) -> None:
    pending = _pending(request)
    entry = pending.pop(kind, None)
    request.session.modified = True
    if entry:
        Path(entry["path"]).unlink(missing_ok=True)


def _store(request: HttpRequest, kind: str, upload: Any) -> dict[str, str]:
    _forget(request, kind)
    UPLOAD_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path = UPLOAD_DIR / f"{kind}-{token}.csv"
    with open(path, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    entry = {"token": token, "path": str(path), "name": upload.name[:200], "size": str(upload.size)}
    _pending(request)[kind] = entry
    request.session.modified = True
    return entry


def import_view(request: HttpRequest, page: ImportPage) -> HttpResponse:
    context: dict[str, Any] = {
        "page": page,
        "limit": size_text(max_import_bytes()),
        "optional": [c for c in page.columns if c not in page.required],
    }
    if request.method == "POST" and "token" in request.POST:
        entry = _pending(request).get(page.kind)
        if not entry or not secrets.compare_digest(entry["token"], request.POST["token"]):
            messages.error(
                request, "That upload has expired or was already imported; upload the file again."
            )
            return redirect(page.url_name)
        if "cancel" in request.POST:
            _forget(request, page.kind)
            messages.info(request, "Import cancelled; nothing was written.")
            return redirect(page.url_name)
        result = page.run(file=entry["path"], user=request.user, dry_run=False)
        if result.ok:
            _forget(request, page.kind)
            messages.success(
                request,
                f"Imported {page.noun} from {entry['name']}: {result.created} created, "
                f"{result.updated} updated, {result.unchanged} unchanged.",
            )
            for notice in result.notices[:20]:
                messages.warning(request, notice)
            return redirect(page.url_name)
        # The data changed between preview and confirm: show why nothing was written.
        _forget(request, page.kind)
        context.update(form=ImportUploadForm(), result=result, upload=entry, confirmed=True)
        return render(request, "imports/upload.html", context)

    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            entry = _store(request, page.kind, form.cleaned_data["file"])
            result = page.run(file=entry["path"], user=request.user, dry_run=True)
            if not result.ok:
                _forget(request, page.kind)
            context.update(form=ImportUploadForm(), result=result, upload=entry)
            return render(request, "imports/upload.html", context)
        context["form"] = form
        return render(request, "imports/upload.html", context, status=400)

    context["form"] = ImportUploadForm()
    return render(request, "imports/upload.html", context)


AGREEMENTS_PAGE = ImportPage(
    kind="agreements",
    title="Import agreements",
    url_name="agreements:import",
    columns=AGREEMENT_COLUMNS,
    required=AGREEMENT_REQUIRED,
    run=agreement_import,
    noun="agreements",
)


@require("agreements.import")
def agreement_import_page(request: HttpRequest) -> HttpResponse:
    return import_view(request, AGREEMENTS_PAGE)
