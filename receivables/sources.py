"""The payment import's sources (SPEC 1.4) as the shared reading layer sees them.

``SOURCES`` names every payment source for the command and API choices (``--source``): the
billable CSV and the bank statement formats. Only ``billable`` is a table the reading layer reads
(``core.reading``); a statement is parsed by ``receivables.statements`` and recognised there from
its first bytes, so those sources carry no header signature and are never detected by header.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core import csvio
from core.csvio import Row
from core.imports import RowError
from core.reading import ReadOptions, Schema, Source, SourceSet, TableReader
from receivables.importing import COLUMNS, REQUIRED
from receivables.statements import HEAD_BYTES, LABELS, PARSERS, detect, to_rows

SCHEMA = Schema(
    kind="payments",
    columns=COLUMNS,
    required=frozenset(REQUIRED),
    kinds={"Payment ID": "id", "Date": "date", "Amount": "money"},
)
BILLABLE = Source(
    "billable", LABELS["billable"], "payments", signature=frozenset(c.lower() for c in REQUIRED)
)
SOURCES = SourceSet(
    SCHEMA, BILLABLE, tuple(Source(name, LABELS[name], "payments") for name in PARSERS)
)


@dataclass
class PaymentFile:
    """A payments file read for the import: its rows in ``COLUMNS`` (the billable CSV, through the
    shared reader and its options) or ``STATEMENT_COLUMNS`` (a bank statement)."""

    source: str
    rows: list[Row]
    errors: list[RowError]
    notices: list[str]
    reader: TableReader | None = None

    def relabel(self, errors: list[RowError]) -> list[RowError]:
        """SPEC column names in ``errors`` -> the file's own (a mapping file's columns)."""
        return self.reader.relabel(errors) if self.reader is not None else errors

    @property
    def encoding(self) -> str:
        return self.reader.encoding if self.reader is not None else ""


def read_payments(file: Any, options: ReadOptions) -> PaymentFile:
    """Read ``file`` (bytes, a path or a binary file object) as ``options`` say. The source is
    the one chosen, the mapping's, or recognised from the first bytes (a statement format, else
    the billable CSV). Raises ``CsvFileError`` for a file that cannot be read at all; its
    ``errors`` holds every problem found before."""
    source = options.source_name()
    if source == "auto" and options.mapping is None:
        with csvio.open_binary(file) as stream:
            source = detect(stream.read(HEAD_BYTES))
    elif source == "auto":
        source = "billable"
    if source not in LABELS:
        raise csvio.CsvFileError(
            RowError(0, csvio.FILE, f"unknown source {source!r}; one of auto, {', '.join(LABELS)}")
        )
    if source != "billable":
        with csvio.open_binary(file) as stream:
            data = stream.read(csvio.max_import_bytes() + 1)
        statement = PARSERS[source](data)
        return PaymentFile(source, to_rows(statement), [], [statement.summary(LABELS[source])])
    reader = TableReader(file, sources=SOURCES, options=replace(options, source="billable"))
    try:
        rows = list(reader)
    except csvio.CsvFileError as exc:
        exc.errors = [*reader.errors, exc.error]  # type: ignore[attr-defined]
        raise
    notices = [f"Read as {LABELS['billable']}: {len(rows)} row(s)."]
    notices.extend(n for n in reader.notices if not n.startswith("Source: "))
    return PaymentFile("billable", rows, list(reader.errors), notices, reader)
