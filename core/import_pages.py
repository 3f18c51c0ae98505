"""Upload pages for every import (SPEC 1.4): pick a file and a source -> dry-run preview (counts,
the first 20 rows as they will be stored, warnings, every problem) -> confirm. A header that
lacks required columns (it matches no source, or the recognised source lacks them: a CRM's
custom fields) opens a mapping form (their columns, ours, what the source already reads, a guess
for each, value replacements) whose mapping is saved under a name and offered next time.

The uploaded bytes wait in a private temp file between preview and confirm; the browser holds only
a random token, looked up in the user's session (a token from another session is refused). The
options the preview was read with are kept with it, so the import reads the file the same way.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core import import_jobs, previews
from core.csvio import CsvFileError, Row, max_import_bytes, size_text
from core.imports import PREVIEW_ROWS, UNDO_HANDLERS, ImportResult, UndoRefused
from core.models import ImportJob, ImportRecord, SavedMapping
from core.reading import (
    Mapping,
    MappingError,
    ReadOptions,
    Source,
    SourceSet,
    TableReader,
    parse_mapping,
)
from core.reading.layouts import detect, guess_column, header_key
from core.roles import has_capability, require

UPLOAD_DIR = previews.UPLOAD_DIR  # expired by core.previews
SESSION_KEY = "billable_imports"
# Columns whose values the mapping form offers to replace (the CRM's words for ours).
REPLACEABLE = ("Stage", "Agreement Type", "Billable", "Approved")
DERIVED = "a key derived from each entry (SPEC 1.4)"


@dataclass(frozen=True)
class ImportPage:
    kind: str  # session key, temp file prefix, ImportRecord.kind, SavedMapping.kind
    title: str
    url_name: str
    sources: SourceSet
    run: Callable[..., ImportResult]
    noun: str

    @property
    def columns(self) -> tuple[str, ...]:
        return self.sources.schema.columns

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c in self.sources.schema.required)


class ReadingOptionsForm(forms.Form):
    """How to read the file (SPEC 1.4): a saved mapping, date order, decimal mark, encoding,
    delimiter, XLSX sheet. ``choices()`` gives them for ``read_options``."""

    mapping = forms.ChoiceField(label="Saved mapping", required=False)
    date_order = forms.ChoiceField(
        label="Dates",
        required=False,
        choices=[("", "firm default"), ("mdy", "month/day/year"), ("dmy", "day/month/year"),
                 ("ymd", "year/month/day")],
    )  # fmt: skip
    decimal = forms.ChoiceField(
        label="Decimal mark",
        required=False,
        choices=[
            ("", "firm default"),
            ("point", "point (1,500.00)"),
            ("comma", "comma (1.500,00)"),
        ],
    )
    encoding = forms.CharField(label="Encoding", required=False, max_length=32)
    delimiter = forms.ChoiceField(
        label="Delimiter",
        required=False,
        choices=[("", "recognise"), (",", ","), (";", ";"), ("tab", "tab"), ("|", "|")],
    )
    sheet = forms.CharField(label="XLSX sheet", required=False, max_length=100)
    KEYS = ("source", "mapping", "date_order", "decimal", "encoding", "delimiter", "sheet")

    def offer_mappings(self, kind: str) -> None:
        names = SavedMapping.objects.filter(kind=kind).values_list("name", flat=True)
        cast(forms.ChoiceField, self.fields["mapping"]).choices = [("", "none")] + [
            (n, n) for n in names
        ]

    def choices(self) -> dict[str, str]:
        return {k: str(self.cleaned_data.get(k) or "").strip() for k in self.KEYS}


class ImportUploadForm(ReadingOptionsForm):
    file = forms.FileField(label="Export file", help_text="CSV or XLSX, with a header row.")
    source = forms.ChoiceField(label="Source", initial="auto", required=False)
    field_order = ["file", "source", "mapping"]

    def __init__(self, *args: Any, page: ImportPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = {s.name: s.label for s in (page.sources.billable, *page.sources.others)}
        cast(forms.ChoiceField, self.fields["source"]).choices = [
            ("auto", "Recognise from the header")
        ] + [(name, labels[name]) for name in page.sources.names]
        self.offer_mappings(page.kind)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = max_import_bytes()
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {size_text(upload.size)}; the import limit is {size_text(limit)}."
            )
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


def read_options(page: ImportPage, choices: dict[str, str]) -> ReadOptions:
    return options_from_choices(page.kind, page.sources, choices)


def options_from_choices(kind: str, sources: SourceSet, choices: dict[str, str]) -> ReadOptions:
    """A ReadingOptionsForm's choices -> ReadOptions (a saved mapping looked up by name)."""
    mapping = None
    if choices.get("mapping"):
        saved = SavedMapping.objects.filter(kind=kind, name=choices["mapping"]).first()
        if saved is not None:
            mapping = parse_mapping(
                saved.data, columns=sources.schema.columns, sources=sources.names
            )
    return ReadOptions(
        source=choices.get("source") or "auto",
        mapping=mapping,
        encoding=choices.get("encoding") or None,
        delimiter=choices.get("delimiter") or None,
        sheet=choices.get("sheet") or None,
        date_order=choices.get("date_order") or None,
        decimal=choices.get("decimal") or None,
    )


def preview_rows(path: str, sources: SourceSet, options: ReadOptions) -> list[Row]:
    """The first rows as they will be stored (normalized by the same reader as the import)."""
    rows: list[Row] = []
    try:
        for row in TableReader(path, sources=sources, options=options):
            rows.append(row)
            if len(rows) >= PREVIEW_ROWS:
                break
    except CsvFileError:
        pass  # the dry run has already reported it
    return rows


# --- pending uploads ----------------------------------------------------------------------------


def _pending(request: HttpRequest) -> dict[str, dict[str, Any]]:
    return request.session.setdefault(SESSION_KEY, {})


def _forget(request: HttpRequest, kind: str) -> None:
    entry = _pending(request).pop(kind, None)
    request.session.modified = True
    if entry:
        Path(entry["path"]).unlink(missing_ok=True)


def _store(request: HttpRequest, kind: str, upload: Any, choices: dict[str, str]) -> dict[str, Any]:
    _forget(request, kind)
    UPLOAD_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path = UPLOAD_DIR / f"{kind}-{token}.upload"
    with open(path, "xb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    entry = {
        "token": token,
        "path": str(path),
        "name": upload.name[:200],
        "size": str(upload.size),
        "choices": choices,
    }
    _pending(request)[kind] = entry
    request.session.modified = True
    return entry


# --- the mapping form (also on the payments page, receivables.views.payment_upload) -------------


def layout_source(sources: SourceSet, options: ReadOptions, header: list[str]) -> Source:
    """The source a file was read as: the one chosen, else the one its header is recognised
    as, else SPEC's own layout (the header matches no source)."""
    name = options.source_name()
    if name != "auto" and name in sources.names:
        return sources.get(name)
    return detect(header, sources.others, sources.billable) or sources.billable


def _reads(source: Source, column: str, by_key: dict[str, str]) -> str:
    """The file column(s) ``source`` reads for ``column`` from this header ("" = none)."""
    for alternative in source.candidates(column):
        if all(header_key(c) in by_key for c in alternative):
            return " + ".join(by_key[header_key(c)] for c in alternative)
    return ""


def mapping_rows(sources: SourceSet, header: list[str], source: Source) -> list[dict[str, Any]]:
    """One row per column of ours: required, what a recognised source already reads for it (kept
    unless another column is picked), a guess among the file's other columns (required columns
    guess first; a file column is guessed once), the source's default, and its value
    replacements (``their value = our value`` lines) for the replaceable columns."""
    schema = sources.schema
    by_key = {header_key(h): h for h in header}
    recognised = source.name != sources.billable.name
    reads = {c: _reads(source, c, by_key) if recognised else "" for c in schema.columns}
    taken = {header_key(part) for label in reads.values() if label for part in label.split(" + ")}
    if recognised and source.derive_key and not reads.get(source.derive_key):
        reads[source.derive_key] = DERIVED
    guesses: dict[str, str] = {}
    for column in sorted(schema.columns, key=lambda c: c not in schema.required):
        if reads[column] or (recognised and column in source.defaults):
            continue  # what the source reads or fills in stays unless the user picks a column
        free = [h for k, h in by_key.items() if k not in taken]
        guess = guess_column(column, free, source)
        if guess:
            guesses[column] = guess
            taken.add(header_key(guess))
    return [
        {
            "index": i,
            "column": column,
            "required": column in schema.required,
            "reads": reads[column],
            "guess": guesses.get(column, ""),
            "default": source.defaults.get(column, ""),
            "replaceable": column in REPLACEABLE,
            "values": "\n".join(f"{k} = {v}" for k, v in source.values.get(column, {}).items()),
        }
        for i, column in enumerate(schema.columns)
    ]


def mapping_from_post(sources: SourceSet, source: Source, post: Any) -> dict[str, Any]:
    """The mapping form -> a mapping file's JSON (SPEC 1.4), validated by parse_mapping later.
    For a recognised source it names the source and keeps only what differs from it (the form
    is pre-filled with what the source already reads, defaults and replaces), so the source's
    own reading (joined columns, fallbacks) stays in force where the form did not change it."""
    columns, defaults, values = {}, {}, {}
    recognised = source.name != sources.billable.name
    for i, column in enumerate(sources.schema.columns):
        theirs = post.get(f"col{i}", "").strip()
        if theirs:  # "" = not in the file, or as the source reads it
            columns[column] = theirs
        default = post.get(f"default{i}", "").strip()
        if default and default != source.defaults.get(column):
            defaults[column] = default
        own = source.values.get(column, {})
        table = {}
        for line in post.get(f"values{i}", "").splitlines():
            their_value, sep, ours = line.partition("=")
            their_value, ours = their_value.strip(), ours.strip()
            if sep and their_value and ours and own.get(header_key(their_value)) != ours:
                table[their_value] = ours
        if table:
            values[column] = table
    data: dict[str, Any] = {"source": source.name} if recognised else {}
    data["columns"] = columns
    if values:
        data["values"] = values
    if defaults:
        data["defaults"] = defaults
    return data


# The upload's reading options a saved mapping keeps (SPEC 1.4 mapping keys), so the next file
# of that layout is read the same way when the mapping is chosen. Not the sheet: its name is
# the file's.
KEPT_OPTIONS = ("date_order", "decimal", "encoding", "delimiter")


def save_mapping(
    request: HttpRequest, *, kind: str, sources: SourceSet, source: Source,
    choices: dict[str, str],
) -> tuple[str, str]:  # fmt: skip
    """The posted mapping form saved under its name, with the reading options the upload chose:
    (saved name, error message)."""
    name = request.POST.get("mapping_name", "").strip()[:100]
    if not name:
        return "", "Give the mapping a name so it can be offered next time."
    data = mapping_from_post(sources, source, request.POST)
    data.update({k: choices[k] for k in KEPT_OPTIONS if choices.get(k)})
    try:
        mapping: Mapping = parse_mapping(
            data, columns=sources.schema.columns, sources=sources.names
        )
    except MappingError as exc:
        return "", f"The mapping cannot be used: {exc}."
    SavedMapping.objects.update_or_create(
        kind=kind,
        name=name,
        defaults={
            "data": mapping.as_json(),
            "created_by": request.user if request.user.is_authenticated else None,
        },
    )
    return name, ""


def mapping_context(
    kind: str, sources: SourceSet, options: ReadOptions, result: ImportResult
) -> dict[str, Any]:
    """What templates/imports/_mapping_form.html shows for a file whose header lacks required
    columns (``result.unknown_header``): the form pre-filled from the source it was read as."""
    header = result.unknown_header
    source = layout_source(sources, options, header)
    by_key = {header_key(h): h for h in header}
    missing = [
        c
        for c in sources.schema.columns
        if c in sources.schema.required
        and c != source.derive_key
        and c not in source.defaults
        and not _reads(source, c, by_key)
    ]
    return {
        "mapping": mapping_rows(sources, header, source),
        "header": header,
        "layout": source if source.name != sources.billable.name else None,
        "missing": missing,
        "saved_mappings": list(
            SavedMapping.objects.filter(kind=kind).values_list("name", flat=True)
        ),
    }


def mapping_choice(
    request: HttpRequest, *, kind: str, sources: SourceSet, layout: str, choices: dict[str, str]
) -> str | None:
    """A post of the mapping form: the mapping to check the file again with (saved from the form,
    or a saved one picked), or None (the message says why)."""
    if "use_mapping" in request.POST:
        name = request.POST.get("saved_mapping", "")
        if SavedMapping.objects.filter(kind=kind, name=name).exists():
            return name
        messages.error(request, "Pick one of the saved mappings.")
        return None
    source = sources.get(layout) if layout in sources.names else sources.billable
    name, error = save_mapping(request, kind=kind, sources=sources, source=source, choices=choices)
    if error:
        messages.error(request, error)
        return None
    messages.success(request, f"Mapping {name!r} saved; it is offered on the next upload.")
    return name


# --- the view -----------------------------------------------------------------------------------


def import_view(request: HttpRequest, page: ImportPage) -> HttpResponse:
    context: dict[str, Any] = {
        "page": page,
        "limit": size_text(max_import_bytes()),
        "optional": [c for c in page.columns if c not in page.required],
    }
    if request.method == "POST" and "token" in request.POST:
        return _with_pending(request, page, context)
    if request.method == "GET" and "checked" in request.GET:
        return _checked(request, page, context, request.GET["checked"])
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES, page=page)
        if not form.is_valid():
            context["form"] = form
            return render(request, "imports/upload.html", context, status=400)
        entry = _store(request, page.kind, form.cleaned_data["file"], form.choices())
        return _preview(request, page, context, entry)
    context["form"] = ImportUploadForm(page=page)
    return render(request, "imports/upload.html", context)


def _preview(
    request: HttpRequest, page: ImportPage, context: dict[str, Any], entry: dict[str, Any]
) -> HttpResponse:
    if import_jobs.is_large(entry["path"]):
        # The check of a large file runs on the worker too; its page then comes back here.
        job = import_jobs.start(
            kind=page.kind, run=page.run, entry=entry, user=request.user, dry_run=True
        )
        entry["job"] = job.pk
        request.session.modified = True
        return redirect("import_job", pk=job.pk)
    options = read_options(page, entry["choices"])
    result = page.run(file=entry["path"], user=request.user, dry_run=True, options=options)
    return _show_preview(request, page, context, entry, options, result)


def _show_preview(
    request: HttpRequest, page: ImportPage, context: dict[str, Any], entry: dict[str, Any],
    options: ReadOptions, result: ImportResult, rows: list[Any] | None = None,
) -> HttpResponse:  # fmt: skip
    context.update(form=ImportUploadForm(page=page), result=result, upload=entry)
    if result.unknown_header:
        # Keep the upload: the mapping form re-checks the same file.
        context.update(mapping_context(page.kind, page.sources, options, result))
        layout = context["layout"].name if context["layout"] else ""
        if entry.get("layout") != layout:
            entry["layout"] = layout
            request.session.modified = True
    elif result.ok:
        context["rows"] = (
            rows if rows is not None else preview_rows(entry["path"], page.sources, options)
        )
    else:
        _forget(request, page.kind)
    return render(request, "imports/upload.html", context)


def _checked(
    request: HttpRequest, page: ImportPage, context: dict[str, Any], pk: str
) -> HttpResponse:
    """The preview of a large file whose check ran in the background (``?checked=<job>``): the
    job's counts, notices, problems and preview rows, for the upload still pending in this
    session; confirming it imports in the background too."""
    entry = _pending(request).get(page.kind)
    job = ImportJob.objects.filter(pk=pk if pk.isdigit() else 0, dry_run=True).first()
    if not entry or job is None or entry.get("job") != job.pk or job.finished_at is None:
        messages.error(request, "That check has expired or is not finished; upload the file again.")
        return redirect(page.url_name)
    result = import_jobs.result_of(job)
    options = read_options(page, entry["choices"])
    return _show_preview(request, page, context, entry, options, result,
                         rows=job.result.get("rows", []))  # fmt: skip


def _with_pending(request: HttpRequest, page: ImportPage, context: dict[str, Any]) -> HttpResponse:
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
    if "save_mapping" in request.POST or "use_mapping" in request.POST:
        name = mapping_choice(
            request, kind=page.kind, sources=page.sources, layout=entry.get("layout", ""),
            choices=entry["choices"],
        )  # fmt: skip
        if name:
            entry["choices"] = {**entry["choices"], "mapping": name}
            request.session.modified = True
        return _preview(request, page, context, entry)
    if import_jobs.is_large(entry["path"]):
        # The worker imports the file (and removes it); the page follows its progress.
        _pending(request).pop(page.kind, None)
        request.session.modified = True
        job = import_jobs.start(kind=page.kind, run=page.run, entry=entry, user=request.user)
        return redirect("import_job", pk=job.pk)
    options = read_options(page, entry["choices"])
    result = page.run(
        file=entry["path"], user=request.user, dry_run=False, options=options,
        file_name=entry["name"],
    )  # fmt: skip
    _forget(request, page.kind)
    if result.ok:
        messages.success(
            request,
            f"Imported {page.noun} from {entry['name']}: {result.created} created, "
            f"{result.updated} updated, {result.unchanged} unchanged"
            + (f", {result.deleted} deleted" if result.deleted else "")
            + ".",
        )
        for notice in result.notices[:20]:
            messages.warning(request, notice)
        return redirect(page.url_name)
    # The data changed between preview and confirm: show why nothing was written.
    context.update(form=ImportUploadForm(page=page), result=result, upload=entry, confirmed=True)
    return render(request, "imports/upload.html", context)


# --- the import history -------------------------------------------------------------------------

# The upload page a finished background check (a dry-run job) returns to, by kind.
CHECK_PAGES = {
    "agreements": "agreements:import",
    "time_entries": "timesheets:import",
    "payments": "receivables:payment_upload",
}
# Kinds whose undo takes any import whose rows no later import rewrote (not only the latest).
ANY_UNDO = ("time_entries", "payments")
KIND_CAPABILITIES = {
    "agreements": "agreements.import",
    "time_entries": "entries.import",
    "payments": "payments.manage",
}


@require("imports.history")
def import_history(request: HttpRequest) -> HttpResponse:
    """Every import that was written: who, when, the file (name, SHA-256), source and counts.
    A user who may import a kind sees Undo on its imports in force: every time-entry and payment
    import (the undo refuses, with the reason, one whose rows were billed, allocated or rewritten
    since), the latest agreement import."""
    from django.core.paginator import Paginator

    records = ImportRecord.objects.select_related("user", "undone_by")
    page = Paginator(records, 50).get_page(request.GET.get("page"))
    undoable = set()
    for kind in KIND_CAPABILITIES:
        if kind not in UNDO_HANDLERS or not has_capability(request.user, UNDO_HANDLERS[kind][0]):
            continue
        done = ImportRecord.objects.filter(kind=kind, status=ImportRecord.Status.DONE).exclude(
            created=0, updated=0, deleted=0
        )
        if kind in ANY_UNDO:  # the undo checks row by row; it refuses with the reason
            undoable |= {
                r.pk
                for r in page.object_list
                if r.kind == kind
                and r.status == ImportRecord.Status.DONE
                and (r.created or r.updated or r.deleted)
            }
        elif (first := done.first()) is not None:
            undoable.add(first.pk)
    return render(request, "imports/history.html", {"page": page, "undoable": undoable})


@require("imports.history")
def import_undo(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("import_history")
    record = ImportRecord.objects.filter(pk=pk).first()
    handler = UNDO_HANDLERS.get(record.kind) if record else None
    if record is None or handler is None:
        messages.error(request, "This import cannot be undone.")
        return redirect("import_history")
    if not has_capability(request.user, handler[0]):
        raise PermissionDenied("Your role may not undo this import.")
    try:
        done = handler[1](record_id=record.pk, user=request.user)
    except UndoRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Import {record.pk} ({record.file_name}) undone: {done['deleted']} removed, "
            f"{done['restored']} restored to their earlier version.",
        )
    return redirect("import_history")


# --- background imports -------------------------------------------------------------------------


def _job_for(request: HttpRequest, pk: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=pk).first()
    if job is None:
        from django.http import Http404

        raise Http404("No such import.")
    if not has_capability(request.user, KIND_CAPABILITIES[job.kind]):
        raise PermissionDenied("Your role may not see this import.")
    return job


@require("imports.history")
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A background import: a progress bar while it runs (polling ``import_job_status``), then
    its outcome: the counts, or every problem and that nothing was written."""
    job = _job_for(request, pk)
    if job.dry_run and job.finished_at is not None and job.kind in CHECK_PAGES:
        # A finished check goes on to the upload page's preview (which offers the import).
        return redirect(f"{reverse(CHECK_PAGES[job.kind])}?checked={job.pk}")
    return render(request, "imports/job.html", {"job": job, "state": import_jobs.as_json(job)})


@require("imports.history")
def import_job_status(request: HttpRequest, pk: int) -> HttpResponse:
    from django.http import JsonResponse

    return JsonResponse(import_jobs.as_json(_job_for(request, pk)))
