"""``TableReader``: any supported export -> ``Row`` objects in SPEC form (SPEC 1.4).

    reader = TableReader(file, schema=SCHEMA, sources=SOURCES, options=ReadOptions(source="auto"))
    for row in reader:  # Row(line, values): values aligned with schema.columns, canonical text
        ...
    reader.errors   # RowErrors of single records (bad cells, wrong field count), file column names
    reader.notices  # what a user should see: the source read, the encoding, the date order

The file is streamed (memory does not grow with its size, except the counter of derived keys).
The header picks the source (``--source auto``) and the file column behind each SPEC column; each
cell is normalized by its column's kind (ISO date, plain decimal, ``yes``/``no``...), so the
importers' own checks read one form whatever the vendor. ``relabel(errors)`` turns SPEC column names
in an importer's errors into the file's own column names. Whole-file problems raise
``CsvFileError``; a header that lacks required columns while no mapping was given (it matches no
source, or the recognised source does not have them: a CRM's custom fields) raises
``UnknownLayout``, whose ``header`` feeds the upload page's mapping form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from django.conf import settings

from core.csvio import FILE, CsvFileError, FieldError, Row, max_import_bytes
from core.imports import RowError
from core.reading.files import FileOptions, Table
from core.reading.layouts import Mapping, Schema, Source, detect, header_key
from core.reading.values import ORDER_WORDS, ValueOptions, is_ambiguous_date, normalize

MAX_ERRORS = 1000
CACHE_LIMIT = 50_000


class UnknownLayout(CsvFileError):
    """No mapping was given and the header lacks required columns: it matches no source (SPEC's
    own columns are missing), or the source read (recognised or chosen) does not have them, as
    a CRM export lacks its custom fields. The error names the first missing column."""

    def __init__(self, error: RowError, header: list[str]) -> None:
        super().__init__(error)
        self.header = header


@dataclass(frozen=True)
class SourceSet:
    """The sources of one schema; ``billable`` is SPEC's own layout."""

    schema: Schema
    billable: Source
    others: tuple[Source, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.billable.name, *(s.name for s in self.others))

    def get(self, name: str) -> Source:
        for source in (self.billable, *self.others):
            if source.name == name:
                return source
        raise CsvFileError(
            RowError(
                0, FILE, f"unknown source {name!r}; choose one of auto, {', '.join(self.names)}"
            )
        )


@dataclass(frozen=True)
class ReadOptions:
    """One import's choices; ``None`` = the mapping file's, else the firm default (SPEC 1.4)."""

    source: str = "auto"
    mapping: Mapping | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    date_order: str | None = None
    decimal: str | None = None

    def _pick(self, name: str, default: str | None) -> str | None:
        mine = getattr(self, name)
        if mine:
            return str(mine)
        if self.mapping is not None and self.mapping.options.get(name):
            return self.mapping.options[name]
        return default

    def files(self) -> FileOptions:
        return FileOptions(
            encoding=self._pick("encoding", None),
            delimiter=self._pick("delimiter", None),
            sheet=self._pick("sheet", None),
        )

    def values(self) -> ValueOptions:
        return ValueOptions(
            date_order=self._pick("date_order", getattr(settings, "BILLING_DATE_ORDER", "mdy"))
            or "mdy",
            decimal=self._pick("decimal", getattr(settings, "BILLING_DECIMAL", "point")) or "point",
        )

    def source_name(self) -> str:
        if self.source and self.source != "auto":
            return self.source
        if self.mapping is not None and self.mapping.source:
            return self.mapping.source
        return "auto"

    def as_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("source", "encoding", "delimiter", "sheet",
                                              "date_order", "decimal")}  # fmt: skip
        return {k: v for k, v in out.items() if v}


@dataclass
class _Column:
    name: str
    label: str  # the file's column name(s), as errors show them
    positions: tuple[int, ...] = ()
    constant: str | None = None
    kind: str = "text"
    table: dict[str, str] = field(default_factory=dict)
    fallbacks: tuple[tuple[int, ...], ...] = ()
    cache: dict[str, str | FieldError] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.normalized = self.kind != "text"
        # One file column, nothing to fall back on: read the cell directly.
        simple = len(self.positions) == 1 and not self.fallbacks and self.constant is None
        self.single = self.positions[0] if simple else -1


class TableReader:
    """See the module docstring."""

    def __init__(
        self,
        file: Any,
        *,
        sources: SourceSet,
        options: ReadOptions | None = None,
        max_bytes: int | None = None,
        records: Iterable[tuple[int, list[str]]] | None = None,
    ) -> None:
        self.file = file
        self.sources = sources
        self.schema = sources.schema
        self.options = options or ReadOptions()
        self.values = self.options.values()
        self.max_bytes = max_import_bytes() if max_bytes is None else max_bytes
        self.table = Table(file, self.options.files(), max_bytes=self.max_bytes)
        self._records = records
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows_read = 0
        self.source: Source | None = None
        self.detected = False
        self.header: list[str] = []
        self.labels: dict[str, str] = {}
        self._ambiguous = ""
        self._derive = False

    @classmethod
    def from_dicts(cls, rows: Any, *, sources: SourceSet, options: ReadOptions | None = None):
        """A JSON list of objects keyed by the file's column names (line = index + 2)."""
        if not isinstance(rows, list):
            raise CsvFileError(RowError(0, FILE, "expected a list of rows (JSON objects)"))
        if not rows:
            raise CsvFileError(RowError(0, FILE, "the list of rows is empty"))
        # Keys match case-insensitively after trimming, as header names do.
        header: dict[str, str] = {}
        for index, item in enumerate(rows):
            if not isinstance(item, dict):
                raise CsvFileError(RowError(index + 2, FILE, "each row must be a JSON object"))
            for k in item:
                header.setdefault(header_key(str(k)), str(k).strip())
        keys = list(header)

        def records() -> Iterator[tuple[int, list[str]]]:
            yield 1, list(header.values())
            for index, item in enumerate(rows):
                by_key = {header_key(str(k)): v for k, v in item.items()}
                yield index + 2, [_json_text(by_key.get(k), index + 2, header[k]) for k in keys]

        reader = cls(None, sources=sources, options=options, records=records())
        reader.table.encoding = "JSON"
        return reader

    # --- what the summary says ------------------------------------------------------------------

    @property
    def encoding(self) -> str:
        return self.table.encoding

    @property
    def notices(self) -> list[str]:
        out = []
        if self.source is not None:
            how = "detected from the header" if self.detected else "as chosen"
            out.append(f"Source: {self.source.label} ({how}).")
        if self.encoding not in ("", "UTF-8", "XLSX", "JSON"):
            out.append(f"The file was read as {self.encoding}.")
        if self._ambiguous:
            order = self.values.date_order
            other = "dmy" if order == "mdy" else "mdy"
            out.append(
                f"Dates such as {self._ambiguous} were read in {ORDER_WORDS[order]} order "
                f"({normalize('date', self._ambiguous, self.values)}); if the file means "
                f"{ORDER_WORDS[other]}, import with --date-order {other}."
            )
        return out

    def relabel(self, errors: Iterable[RowError]) -> list[RowError]:
        return [
            replace(e, column=self.labels[e.column]) if e.column in self.labels else e
            for e in errors
        ]

    def add_error(self, line: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, column, message))

    # --- reading --------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        records = self._records if self._records is not None else self.table.records()
        columns: list[_Column] = []
        width = 0
        ragged = False
        key: Callable[[list[str]], None] | None = None
        source: Source | None = None
        count = len(self.schema.columns)
        for line, fields in records:
            if source is None:
                self.header = [f.strip() for f in fields]
                source = self._choose(self.header, line)
                columns = self._resolve(source, self.header, line)
                width, ragged = len(fields), self.encoding in ("XLSX", "JSON")
                key = self._key_maker(source, columns)
                self._plan(columns, width)
                continue
            if source.footers and source.is_footer(fields):
                continue
            if len(fields) != width:
                fitted = self._fit(fields, width, ragged, line)
                if fitted is None:
                    continue
                fields = fitted
            values = self._values(columns, fields, line)
            if values is None:
                continue
            if key is not None:
                key(values)
            self.rows_read += 1
            yield Row(line, tuple(values[:count]))
        if source is None:
            raise CsvFileError(RowError(0, FILE, "the file is empty"))
        if self.rows_read == 0 and not self.error_count:
            raise CsvFileError(RowError(0, FILE, "the file has a header row but no data rows"))

    def _fit(self, fields: list[str], width: int, ragged: bool, line: int) -> list[str] | None:
        trailing = ragged or (self.source is not None and self.source.trailing_delimiter)
        if trailing and len(fields) > width and not any(f.strip() for f in fields[width:]):
            return fields[:width]  # empty cells past the header (XLSX, a trailing delimiter)
        if ragged and len(fields) < width:
            return fields + [""] * (width - len(fields))
        self.add_error(
            line,
            FILE,
            f"has {len(fields)} fields but the header has {width} "
            f"(a {_mark(self.table.delimiter)} in an unquoted value?)",
        )
        return None

    def _choose(self, header: list[str], line: int) -> Source:
        name = self.options.source_name()
        if name != "auto":
            source = self.sources.get(name)
        else:
            # Nothing recognised: SPEC's own layout, whose missing columns are then reported.
            found = detect(header, self.sources.others, self.sources.billable)
            source = found or self.sources.billable
            self.detected = True
        if self.options.mapping is not None:
            source = self.options.mapping.apply(source)
        self.source = source
        return source

    def _resolve(self, source: Source, header: list[str], line: int) -> list[_Column]:
        positions: dict[str, list[int]] = {}
        for index, name in enumerate(header):
            if header_key(name):
                positions.setdefault(header_key(name), []).append(index)
        schema = self.schema
        wanted = (*schema.columns, *schema.helpers)
        columns: list[_Column] = []
        missing = []
        derive = False
        for name in wanted:
            column = self._locate(source, name, positions, header, line)
            if column is None and name == source.derive_key:
                derive = True
                column = _Column(name, name, constant="")
            elif column is None:
                if name in schema.required:
                    missing.append(name)
                column = _Column(name, name, constant="")
            columns.append(column)
        if missing:
            also = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
            hint = (
                ""
                if source is self.sources.billable
                else (f"; the {source.label} export has no such column: add it with a mapping file")
            )
            error = RowError(
                line, missing[0], f"required column is missing from the header{also}{hint}"
            )
            if self.options.mapping is None:
                raise UnknownLayout(error, header)
            raise CsvFileError(error)
        self._derive = derive
        return columns

    def _locate(
        self, source: Source, name: str, positions: dict[str, list[int]], header: list[str],
        line: int,
    ) -> _Column | None:  # fmt: skip
        kind = source.kinds.get(name, self.schema.kind_of(name))
        table = {header_key(k): v for k, v in source.values.get(name, {}).items()}
        present: list[tuple[int, ...]] = []
        label = ""
        for alternative in source.candidates(name):
            keys = [header_key(c) for c in alternative]
            if not all(k in positions for k in keys):
                continue
            for k in keys:
                if len(positions[k]) > 1:
                    shown = header[positions[k][0]]
                    raise CsvFileError(
                        RowError(line, shown, "the column appears twice in the header")
                    )
            present.append(tuple(positions[k][0] for k in keys))
            label = label or " + ".join(header[positions[k][0]] for k in keys)
        if present:
            if label != name:
                self.labels[name] = label
            # Later alternatives fill cells the first leaves empty (Harvest's Project Code).
            return _Column(name, label, present[0], None, kind, table, tuple(present[1:]))
        if name in source.defaults:
            return _Column(name, name, (), source.defaults[name], kind, table)
        return None

    def _plan(self, columns: list[_Column], width: int) -> None:
        """Precompute how a record becomes values: one C-level itemgetter over the record plus
        the constants, then Python only for joined / fallback columns and normalized ones."""
        constants = [c.constant or "" for c in columns if c.constant is not None]
        index, k = [], 0
        for column in columns:
            if column.single >= 0:
                index.append(column.single)
            elif column.constant is not None:
                index.append(width + k)
                k += 1
            else:
                index.append(width + len(constants))  # filled below
        self._tail = [*constants, ""]
        self._getter = itemgetter(*index) if len(index) > 1 else (lambda row: (row[index[0]],))
        self._special = [
            (k, c) for k, c in enumerate(columns) if c.single < 0 and c.constant is None
        ]
        self._post = [(k, c) for k, c in enumerate(columns) if c.table or c.normalized]

    def _values(self, columns: list[_Column], fields: list[str], line: int) -> list[str] | None:
        # The hot loop of every import (a million rows x a dozen columns).
        out = [t.strip() for t in self._getter(fields + self._tail)]
        for k, column in self._special:
            text = _cell(fields, column.positions)
            for other in column.fallbacks:
                if text:
                    break
                text = _cell(fields, other)
            out[k] = text
        ok = True
        for k, column in self._post:
            text = out[k]
            if not text:
                continue
            if column.table:
                text = out[k] = column.table.get(header_key(text), text)
            if column.normalized:
                cached = column.cache.get(text)
                if cached is None:
                    cached = self._normalize(column, text)
                if cached.__class__ is not str:
                    self.add_error(line, column.label, str(cached))
                    ok = False
                    continue
                out[k] = cached  # type: ignore[assignment]
        return out if ok else None

    def _normalize(self, column: _Column, text: str) -> str | FieldError:
        try:
            value: str | FieldError = normalize(column.kind, text, self.values)
        except FieldError as exc:
            value = exc
        if column.kind == "date" and not self._ambiguous and is_ambiguous_date(text):
            self._ambiguous = text
        if len(column.cache) > CACHE_LIMIT:
            column.cache.clear()
        column.cache[text] = value
        return value

    def _key_maker(
        self, source: Source, columns: list[_Column]
    ) -> Callable[[list[str]], None] | None:
        """SPEC 1.4 derived keys: ``<source>:<16 hex of SHA-256 of the key fields and n>``, n
        counting identical rows within the file (1 for the first)."""
        if not self._derive:
            return None
        index = [i for i, c in enumerate(columns) if c.name in source.key_fields]
        target = next(i for i, c in enumerate(columns) if c.name == source.derive_key)
        seen: dict[bytes, int] = {}

        def key(values: list[str]) -> None:
            base = "\x1f".join(values[i] for i in index).encode()
            digest = hashlib.sha256(base).digest()[:12]
            n = seen.get(digest, 0) + 1
            seen[digest] = n
            text = hashlib.sha256(base + b"\x1f" + str(n).encode()).hexdigest()[:16]
            values[target] = f"{source.name}:{text}"

        return key


def _cell(fields: list[str], positions: tuple[int, ...]) -> str:
    if len(positions) == 1:
        return fields[positions[0]].strip()
    return " ".join(p for p in (fields[i].strip() for i in positions) if p)


def _mark(delimiter: str | None) -> str:
    return {";": "semicolon", "\t": "tab", "|": "pipe"}.get(delimiter or ",", "comma")


def _json_text(value: Any, line: int, column: str) -> str:
    from decimal import Decimal

    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # the shortest text that round-trips
    raise CsvFileError(RowError(line, column, "must be text or a number"))
