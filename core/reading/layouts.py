"""Sources and mapping files: how a vendor's header and cells turn into SPEC columns (SPEC 1.4).

A ``Schema`` is what an importer reads: its SPEC columns, the required ones and each column's value
kind (``core.reading.values.KINDS``). A ``Source`` describes one vendor's export for one schema:
for each SPEC column the file columns to read (a tuple is joined with one space; the first
alternative whose columns are all present wins), kinds that differ from the schema's (Kimai writes
seconds), defaults for columns the export never has, whole-cell value replacements, footer lines
its tool writes after the data, and whether entry keys are derived (SPEC 1.4 "Derived keys").
A ``Mapping`` is the user's JSON file; it overrides a source column by column.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field, replace
from typing import Any

from core.reading.values import DATE_ORDERS, DECIMALS

Candidates = tuple[tuple[str, ...], ...]


def header_key(name: str) -> str:
    return " ".join(name.strip().lower().split())


@dataclass(frozen=True)
class Schema:
    kind: str  # "agreements", "time_entries", "payments"
    columns: tuple[str, ...]
    required: frozenset[str]
    kinds: MappingType[str, str] = field(default_factory=dict)
    # Columns a source may read that the importer does not (e.g. "Start Time" for derived keys).
    helpers: tuple[str, ...] = ()

    def kind_of(self, column: str) -> str:
        return self.kinds.get(column, "text")


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    schema_kind: str
    columns: MappingType[str, Candidates] = field(default_factory=dict)
    # Normalized header names that together identify the export (for --source auto); more sets
    # for translated headers (Kimai in German).
    signature: frozenset[str] = frozenset()
    alternative_signatures: tuple[frozenset[str], ...] = ()
    kinds: MappingType[str, str] = field(default_factory=dict)
    defaults: MappingType[str, str] = field(default_factory=dict)
    values: MappingType[str, MappingType[str, str]] = field(default_factory=dict)
    footers: tuple[re.Pattern[str], ...] = ()
    derive_key: str | None = None  # the SPEC column filled with a derived key, if absent
    key_fields: tuple[str, ...] = ()
    # Rows may end with a delimiter the header lacks (Chase): extra empty trailing cells are
    # dropped. Off by default: elsewhere an extra field means an unquoted delimiter in a value.
    trailing_delimiter: bool = False
    # Where a report writes its own defaults (e.g. Clockify's date order follows the user).
    hint: str = ""

    def matched_by(self, keys: set[str]) -> int:
        """How many header names of a signature the header carries (0 = not this source)."""
        return max(
            (
                len(sig)
                for sig in (self.signature, *self.alternative_signatures)
                if sig and sig <= keys
            ),
            default=0,
        )

    def candidates(self, column: str) -> Candidates:
        """File columns to try for a SPEC column: the source's own, else the SPEC name."""
        return self.columns.get(column, ((column,),))

    def is_footer(self, fields: list[str]) -> bool:
        cells = [f.strip() for f in fields if f.strip()]
        return len(cells) == 1 and any(p.match(cells[0]) for p in self.footers)


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the key."""


OPTION_KEYS = ("date_order", "decimal", "encoding", "delimiter", "sheet")


@dataclass(frozen=True)
class Mapping:
    source: str = ""
    columns: MappingType[str, tuple[str, ...]] = field(default_factory=dict)
    values: MappingType[str, MappingType[str, str]] = field(default_factory=dict)
    defaults: MappingType[str, str] = field(default_factory=dict)
    options: MappingType[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.source:
            out["source"] = self.source
        out["columns"] = {k: v[0] if len(v) == 1 else list(v) for k, v in self.columns.items()}
        if self.values:
            out["values"] = {k: dict(v) for k, v in self.values.items()}
        if self.defaults:
            out["defaults"] = dict(self.defaults)
        out.update(self.options)
        return out

    def apply(self, source: Source) -> Source:
        """The source with this mapping's columns, values and defaults laid over it."""
        columns = dict(source.columns)
        columns.update({ours: (theirs,) for ours, theirs in self.columns.items()})
        values = {k: dict(v) for k, v in source.values.items()}
        for ours, table in self.values.items():
            values.setdefault(ours, {}).update(table)
        return replace(
            source,
            columns=columns,
            values=values,
            defaults={**source.defaults, **self.defaults},
        )


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where} must be a non-empty text")
    return value.strip()


_OurColumn = Callable[[Any, str], str]


def parse_mapping(data: Any, *, columns: tuple[str, ...], sources: tuple[str, ...]) -> Mapping:
    """A mapping file's JSON (text, bytes or already-decoded) -> ``Mapping``, or MappingError."""
    if isinstance(data, bytes | str):
        try:
            data = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MappingError(f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MappingError("must be a JSON object")
    ours = {header_key(c): c for c in columns}

    def our(name: Any, where: str) -> str:
        key = header_key(_text(name, where))
        if key not in ours:
            raise MappingError(
                f"{where}: {name!r} is not one of our columns ({', '.join(columns)})"
            )
        return ours[key]

    unknown = set(data) - {"source", "columns", "values", "defaults", *OPTION_KEYS}
    if unknown:
        raise MappingError(f"unknown key {sorted(unknown)[0]!r}")
    return Mapping(
        source=_mapped_source(data, sources),
        columns=_mapped_columns(data, our),
        values=_mapped_values(data, our),
        defaults=_mapped_defaults(data, our),
        options=_mapped_options(data),
    )


def _mapped_source(data: dict[str, Any], sources: tuple[str, ...]) -> str:
    if "source" not in data:
        return ""
    source = _text(data["source"], "source")
    if source not in sources:
        raise MappingError(f"source {source!r} is not one of {', '.join(sources)}")
    return source


def _mapped_columns(data: dict[str, Any], our: _OurColumn) -> dict[str, tuple[str, ...]]:
    """Our column -> the file column(s) it is read from."""
    mapped: dict[str, tuple[str, ...]] = {}
    for name, theirs in _object(data, "columns").items():
        column = our(name, "columns")
        if isinstance(theirs, list):
            if not theirs:
                raise MappingError(f"columns: {column!r} lists no file columns")
            mapped[column] = tuple(_text(t, f"columns: {column!r}") for t in theirs)
        else:
            mapped[column] = (_text(theirs, f"columns: {column!r}"),)
    return mapped


def _mapped_values(data: dict[str, Any], our: _OurColumn) -> dict[str, dict[str, str]]:
    """Our column -> {the file's value (as a header key): ours}."""
    values: dict[str, dict[str, str]] = {}
    for name, table in _object(data, "values").items():
        column = our(name, "values")
        if not isinstance(table, dict):
            raise MappingError(f"values: {column!r} must map file values to ours")
        values[column] = {}
        for theirs, mine in table.items():
            if not isinstance(mine, str):
                raise MappingError(f"values: {column!r}: {theirs!r} must map to a text")
            values[column][header_key(str(theirs))] = mine.strip()
    return values


def _mapped_defaults(data: dict[str, Any], our: _OurColumn) -> dict[str, str]:
    defaults = {}
    for name, value in _object(data, "defaults").items():
        column = our(name, "defaults")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise MappingError(f"defaults: {column!r} must be a text or a number")
        defaults[column] = str(value).strip()
    return defaults


def _mapped_options(data: dict[str, Any]) -> dict[str, str]:
    options = {}
    for key in OPTION_KEYS:
        if key in data:
            options[key] = _text(data[key], key)
    if options.get("date_order", "mdy") not in DATE_ORDERS:
        raise MappingError(f"date_order must be one of {', '.join(DATE_ORDERS)}")
    if options.get("decimal", "point") not in DECIMALS:
        raise MappingError(f"decimal must be one of {', '.join(DECIMALS)}")
    return options


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise MappingError(f"{key} must be a JSON object")
    return value


def detect(header: list[str], sources: tuple[Source, ...], billable: Source) -> Source | None:
    """The source whose signature the header carries (the most specific one wins); the
    ``billable`` source when its required columns are all there; else None."""
    keys = {header_key(h) for h in header}
    scored = [(s.matched_by(keys), s) for s in sources]
    best = max(scored, key=lambda pair: pair[0], default=(0, billable))
    if best[0]:
        return best[1]
    return billable if billable.signature <= keys else None


def guess_column(ours: str, header: list[str], source: Source) -> str:
    """The file column most likely meant for one of our columns (for the mapping form): the
    source's own, else the one sharing the most words with ours where one name's words all
    appear in the other's ("Rate" for Hourly Rate, "Opportunity Currency" for Currency; not
    "Billing Model" for Billing Email, whose cells the form would then post as e-mails)."""
    keys = {header_key(h): h for h in header}
    for alternative in source.candidates(ours):
        if len(alternative) == 1 and header_key(alternative[0]) in keys:
            return keys[header_key(alternative[0])]
    wanted = set(header_key(ours).split())
    best, score = "", 0
    for key, name in keys.items():
        words = set(re.split(r"[\s_/()?.-]+", key)) - {""}
        common = len(wanted & words)
        if common > score and (words <= wanted or wanted <= words):
            best, score = name, common
    return best
