"""A mapping named or given with an import (SPEC 1.4): the upload pages and the API take either a
mapping file's JSON or the name of a mapping saved from the mapping form."""

from __future__ import annotations

from typing import Any

from core.reading.layouts import Mapping, MappingError, parse_mapping


def mapping_for(value: Any, *, sources: Any) -> Mapping:
    """``value``: a mapping file's JSON (text, bytes, an uploaded file or a decoded object) or a
    saved mapping's name for ``sources.schema.kind``. Raises MappingError naming the problem."""
    from core.models import SavedMapping

    if hasattr(value, "read"):
        value = value.read()
    if isinstance(value, bytes):
        value = value.decode("utf-8-sig", errors="replace")
    if isinstance(value, str) and not value.lstrip().startswith("{"):
        name = value.strip()
        saved = SavedMapping.objects.filter(kind=sources.schema.kind, name=name).first()
        if saved is None:
            raise MappingError(
                f"is neither a mapping file's JSON nor the name of a saved mapping ({name[:100]!r})"
            )
        value = saved.data
    return parse_mapping(value, columns=sources.schema.columns, sources=sources.names)
