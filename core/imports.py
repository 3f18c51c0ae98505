"""The result every CSV/JSON import returns (SPEC 1 and 5): counts and every problem found."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction


@dataclass(frozen=True)
class RowError:
    line: int  # physical line in the file; the header is line 1 (0 = the file as a whole)
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message}


PREVIEW_ROWS = 20  # rows an upload page's preview shows


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    # Notices that do not reject the file (for example CHANGED_AFTER_INVOICING flags raised).
    notices: list[str] = field(default_factory=list)
    source: str = ""  # the source the file was read as (SPEC 1.4)
    import_id: int | None = None  # the ImportRecord of an import that wrote
    deleted: int = 0  # entries removed by --replace-period
    # The header of a file that lacks required columns and was read without a mapping (the
    # upload page opens the mapping form).
    unknown_header: list[str] = field(default_factory=list)
    # A dry run's first PREVIEW_ROWS rows as they would be stored (payments: the parsed rows,
    # their accounts found), for the upload page's preview table.
    preview: list[Any] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """The `--json` summary of SPEC section 5."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": [e.as_dict() for e in self.errors],
        }


@dataclass(frozen=True)
class ImportFile:
    """What the import history keeps about the file an import read (SPEC 1.4)."""

    name: str = ""
    sha256: str = ""
    size: int = 0


def import_record_create(
    *, kind: str, source: str, user: Any, file: ImportFile, encoding: str,
    options: dict[str, Any],
) -> Any:  # fmt: skip
    """Record an import that wrote (call inside its transaction, before writing, so its rows can
    point at the record; ``import_record_finish`` stores the counts)."""
    from django.utils import timezone

    from core.models import ImportRecord

    return ImportRecord.objects.create(
        kind=kind,
        source=source,
        user=user if getattr(user, "pk", None) else None,
        file_name=file.name[:255],
        sha256=file.sha256,
        size=file.size,
        encoding=encoding[:32],
        options=options,
        created_at=timezone.now(),
    )


def import_record_finish(*, record: Any, result: ImportResult, deleted: int = 0) -> None:
    record.created, record.updated, record.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    record.deleted = deleted
    record.notices = result.notices[:50]
    record.save(update_fields=["created", "updated", "unchanged", "deleted", "notices"])


class UndoRefused(Exception):
    """The import cannot be undone; the message says why."""


def import_record_claim_undo(
    *, record_id: int, kind: str, user: Any, latest_only: bool = True
) -> Any:
    """Lock an import for undo (inside the caller's transaction): it must exist, be of ``kind``,
    not be undone, and (``latest_only``) be the latest import of its kind still in force; a caller
    that checks row by row that no later import rewrote its rows passes ``latest_only=False``.
    Marks it undone; the caller then removes or restores its rows and raises UndoRefused to roll
    everything back."""
    from django.utils import timezone

    from core.models import ImportRecord

    record = ImportRecord.objects.select_for_update().filter(pk=record_id, kind=kind).first()
    if record is None:
        raise UndoRefused("There is no such import.")
    if record.status == ImportRecord.Status.UNDONE:
        raise UndoRefused("This import was already undone.")
    from django.db.models import Q

    wrote = Q(created__gt=0) | Q(updated__gt=0) | Q(deleted__gt=0)
    later = (
        ImportRecord.objects.filter(
            kind=kind, status=ImportRecord.Status.DONE, created_at__gt=record.created_at
        )
        .filter(wrote)
        .first()
    )
    if later is not None and latest_only:
        raise UndoRefused(
            f"Import {later.pk} ({later.file_name}) came after this one; undo that one first."
        )
    record.status = ImportRecord.Status.UNDONE
    record.undone_at = timezone.now()
    record.undone_by = user if getattr(user, "pk", None) else None
    record.save(update_fields=["status", "undone_at", "undone_by"])
    return record


def protected_ids(
    model: Any, ids: list[int], *, include_hidden: bool = False, skip: tuple[Any, ...] = ()
) -> set[int]:
    """The ids among ``ids`` that a PROTECT relation of another model points at (an entry on an
    invoice line, a payment with allocations): found through the model's relations, so an
    upstream app learns that a downstream row holds its row without naming the downstream app.
    ``include_hidden`` also follows relations without a reverse name (``related_name="+"``, e.g.
    an entry billing's agreement); relations from the models in ``skip`` are not followed."""
    from django.db import models

    found: set[int] = set()
    relations = (
        [
            f
            for f in model._meta.get_fields(include_hidden=True)
            if f.auto_created and not f.concrete
        ]
        if include_hidden
        else model._meta.related_objects
    )
    for relation in relations:
        if relation.on_delete is not models.PROTECT or relation.related_model in skip:
            continue
        column = relation.field.name
        for i in range(0, len(ids), 5000):
            found.update(
                relation.related_model._base_manager.filter(
                    **{f"{column}__in": ids[i : i + 5000]}
                ).values_list(relation.field.attname, flat=True)
            )
    return found


# kind -> (capability needed, undo(*, record_id, user)); each app registers its own in ready(),
# so the history page (core) can undo an import without importing the app.
UNDO_HANDLERS: dict[str, tuple[str, Any]] = {}


def register_undo(kind: str, capability: str, handler: Any) -> None:
    UNDO_HANDLERS[kind] = (capability, handler)


@contextmanager
def import_transaction(*, dry_run: bool) -> Iterator[None]:
    """The one transaction of an import (agreements, time entries, payments). A dry run does
    exactly what the real run does inside it, then rolls it back (a savepoint inside an outer
    transaction), whatever way the block is left: it writes nothing, no history either, and
    reports the counts the real run would."""
    with transaction.atomic():
        try:
            yield
        finally:
            if dry_run:
                transaction.set_rollback(True)
