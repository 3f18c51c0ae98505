"""Bytes -> records with physical line numbers, for CSV in any of the encodings and delimiters real
exports use, and for XLSX workbooks (SPEC 1.4 "File reading").

``Table(file, options, max_bytes)``: iterate ``records()`` for ``(line, fields)``; after the first
record ``encoding`` ("UTF-8", "UTF-16", "Windows-1252", ... or "XLSX") and ``delimiter`` say how the
file was read. Whole-file problems raise ``CsvFileError`` (line 0 or the line where they were found).

Encoding: a BOM decides (UTF-8 or UTF-16); otherwise the bytes are checked to be UTF-8 in one
streaming pass and, when they are not, read as Windows-1252; ``options.encoding`` forces a codec.
Delimiter: Excel's ``sep=;`` first line, else the one of ``, ; tab |`` that occurs most often
outside quotes in the header line; ``options.delimiter`` forces one. Blank lines are skipped.

Caps: a row of more than ``max_import_columns()`` columns, or a cell of more than MAX_FIELD_BYTES,
refuses the file (``line N: column M: ...``) before the row is split into cells; a line longer
than CHUNK is checked as it is read, so a header of millions of columns costs its first megabyte,
not the whole line (nor millions of strings). The delimiter is sniffed from the header line's
first SNIFF_CHARS characters.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from core.csvio import (
    FILE,
    MAX_FIELD_BYTES,
    CsvFileError,
    _known_size,
    max_import_columns,
    open_binary,
    too_large_error,
)
from core.imports import ImportFile, RowError

DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
CHUNK = 1 << 20
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
LABELS = {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "utf-16": "UTF-16",
          "cp1252": "Windows-1252", "iso8859-1": "ISO-8859-1", "iso8859-15": "ISO-8859-15",
          "ascii": "ASCII", "mac-roman": "Mac Roman"}  # fmt: skip
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


@dataclass(frozen=True)
class FileOptions:
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def codec_name(name: str) -> str:
    """A codec the user named (``cp1252``, ``Windows-1252``, ``latin1``) -> Python's name."""
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        raise CsvFileError(RowError(0, FILE, f"unknown encoding {name!r}")) from None


def delimiter_char(name: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(name.strip().lower(), name)
    if len(value) != 1 or value in '"\r\n':
        raise CsvFileError(RowError(0, FILE, f"the delimiter must be one character, got {name!r}"))
    return value


def _binary(line: int) -> CsvFileError:
    return CsvFileError(
        RowError(line, FILE, "the file contains binary data (NUL bytes); upload the CSV export")
    )


class Table:
    """One import file as records; see the module docstring."""

    def __init__(self, file: Any, options: FileOptions, *, max_bytes: int) -> None:
        self.file = file
        self.options = options
        self.max_bytes = max_bytes
        self.encoding = ""
        self.delimiter: str | None = None

    def records(self) -> Iterator[tuple[int, list[str]]]:
        with open_binary(self.file) as raw:
            size = _known_size(raw)
            if size is not None and size > self.max_bytes:
                raise CsvFileError(too_large_error(self.max_bytes))
            with _seekable(raw, self.max_bytes) as stream:
                head = stream.read(8)
                stream.seek(0)
                if head.startswith(ZIP_MAGIC):
                    self.encoding = "XLSX"
                    yield from _xlsx_records(stream, self.options.sheet)
                    return
                if head.startswith(OLE_MAGIC):
                    raise CsvFileError(
                        RowError(0, FILE, "is an old Excel .xls workbook; save it as .xlsx or CSV")
                    )
                yield from self._csv_records(stream)

    # --- CSV ------------------------------------------------------------------------------------

    def _codec(self, stream: IO[bytes]) -> tuple[str, int]:
        """(codec, bytes of BOM to skip)."""
        head = stream.read(4)
        stream.seek(0)
        bom = next(((mark, name) for mark, name in BOMS if head.startswith(mark)), None)
        if self.options.encoding:
            name = codec_name(self.options.encoding)
            skip = len(bom[0]) if bom and name.startswith(bom[1][:6]) else 0
            return name, skip
        if bom:
            return bom[1], len(bom[0])
        return ("utf-8" if _is_utf8(stream, self.max_bytes) else "cp1252"), 0

    def _csv_records(self, stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
        codec, skip = self._codec(stream)
        self.encoding = LABELS.get(codec, codec)
        stream.seek(skip)
        guard = _LongLineGuard(self.options)
        if codec.startswith(("utf-16", "utf-32")):
            lines = _wide_lines(stream, codec)
        else:
            lines = _byte_lines(stream, codec, self.max_bytes, guard)
        lines, delimiter, skipped = self._sniff(lines)
        self.delimiter = guard.delimiter = delimiter
        lines = _capped_lines(lines, delimiter, skipped, guard)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        last = skipped
        try:
            for fields in reader:
                start, last = last + 1, reader.line_num + skipped
                if fields and any(f.strip() for f in fields):
                    yield start, fields
        except csv.Error as exc:
            raise CsvFileError(_csv_error(str(exc), last + 1, reader.line_num + skipped)) from None

    def _sniff(self, lines: Iterator[str]) -> tuple[Iterator[str], str, int]:
        """Peek at the header line; returns the lines again, the delimiter and lines consumed."""
        peeked: list[str] = []
        for line in lines:
            peeked.append(line)
            if line and not line.isspace():  # not strip(): no copy of a huge line
                break
        skipped = 0
        first = peeked[-1] if peeked else ""
        head = first.strip() if len(first) <= 16 else ""
        delimiter = None
        if head.lower().startswith("sep=") and len(head) == 5:
            delimiter, skipped, peeked = head[4], len(peeked), []  # Excel's `sep=;` line
        if self.options.delimiter:
            delimiter = delimiter_char(self.options.delimiter)
        elif delimiter is None:
            delimiter = sniff_delimiter(_sample(first))

        def chained() -> Iterator[str]:
            yield from peeked
            yield from lines

        return chained(), delimiter, skipped


SNIFF_CHARS = 65_536  # the delimiter is sniffed from the header line's first 64 k characters


def _sample(line: str) -> str:
    return line[:SNIFF_CHARS].strip()


def sniff_delimiter(line: str) -> str:
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda c: (counts[c], c == ","))
    return best if counts[best] else ","


def _csv_error(text: str, start: int, line: int) -> RowError:
    if "unexpected end of data" in text:
        return RowError(start, FILE, f"a quoted value that starts on line {start} is never closed")
    line = max(line, start)
    if "new-line character" in text:
        return RowError(
            line,
            FILE,
            "has a bare carriage return (CR) outside quotes; save with standard line ends",
        )
    if "field larger than" in text:
        return RowError(line, FILE, "has a value longer than 1 MB")
    return RowError(line, FILE, f"is not valid CSV ({text})")


class _seekable:
    """The stream itself when it can seek, else a spooled copy (so it can be read twice)."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream, self.limit = stream, limit
        self.copy: Any = None

    def __enter__(self) -> IO[bytes]:
        try:
            if self.stream.seekable():
                self.stream.seek(0)
                return self.stream
        except (AttributeError, OSError, ValueError):
            pass
        copy = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)  # noqa: SIM115
        total = 0
        while chunk := self.stream.read(CHUNK):
            total += len(chunk)
            if total > self.limit:
                copy.close()
                raise CsvFileError(too_large_error(self.limit))
            copy.write(chunk)
        copy.seek(0)
        self.copy = copy
        return copy  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        if self.copy is not None:
            self.copy.close()


def _is_utf8(stream: IO[bytes], limit: int) -> bool:
    """One streaming pass: are the bytes valid UTF-8? (Rewinds the stream.)"""
    decoder = codecs.getincrementaldecoder("utf-8")()
    total = 0
    try:
        while chunk := stream.read(CHUNK):
            total += len(chunk)
            if total > limit:
                raise CsvFileError(too_large_error(limit))
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)


def _refuse_binary_head(head: bytes) -> None:
    """The first 8 KiB hold a NUL byte: UTF-16 without a byte-order mark, or not text at all."""
    if b"\x00" not in head:
        return
    if head[1:2] == b"\x00" or head[:1] == b"\x00":
        raise CsvFileError(
            RowError(
                0,
                FILE,
                "looks like UTF-16 without a byte-order mark; import with "
                "--encoding utf-16-le (or utf-16-be)",
            )
        )
    raise _binary(0)


def _line_pieces(
    readline: Callable[[int], bytes],
    codec: str,
    limit: int,
    total: int,
    number: int,
    guard: _LongLineGuard | None,
) -> tuple[list[bytes], int]:
    """Line `number` in pieces of at most CHUNK bytes (none at the end of the file), and the
    bytes read so far with it; past its first piece, `guard` checks the line's text so far."""
    pieces: list[bytes] = []
    prefix: _Prefix | None = None
    while True:
        piece = readline(min(CHUNK, limit + 1 - total))
        if not piece:
            break
        total += len(piece)
        if total > limit:
            raise CsvFileError(too_large_error(limit))
        if b"\x00" in piece:
            raise _binary(number)
        pieces.append(piece)
        if piece.endswith(b"\n"):
            break
        if guard is not None:
            prefix = prefix or _Prefix(codec)
            guard.check(prefix.add(pieces[len(prefix.pieces) :]), number)
    return pieces, total


def _decode_line(raw: bytes, codec: str, number: int) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        shown = LABELS.get(codec, codec)
        raise CsvFileError(
            RowError(
                number,
                FILE,
                f"is not valid {shown} (byte 0x{raw[exc.start]:02X} at position "
                f"{exc.start + 1}); save the file as CSV UTF-8 or name its encoding",
            )
        ) from None


def _byte_lines(
    stream: IO[bytes], codec: str, limit: int, guard: _LongLineGuard | None = None
) -> Iterator[str]:
    """Physical lines of an ASCII-compatible encoding, checking size and binary content. A line
    is read in pieces of CHUNK bytes; past the first, `guard` checks what was read so far against
    the column and cell caps, so a line of millions of columns is refused from its first
    megabyte instead of being assembled, copied and decoded whole."""
    head = stream.read(8192)
    _refuse_binary_head(head)
    first = io.BytesIO(head)

    def readline(size: int) -> bytes:
        line = first.readline(size)
        if line.endswith(b"\n") or len(line) >= size:
            return line
        return line + stream.readline(size - len(line))

    total = number = 0
    while True:
        pieces, total = _line_pieces(readline, codec, limit, total, number + 1, guard)
        if not pieces:
            return
        number += 1
        raw = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        del pieces
        yield _decode_line(raw, codec, number)


class _Prefix:
    """The text of a long line read so far (undecodable bytes replaced: the line's own decode
    reports them once it is whole)."""

    def __init__(self, codec: str) -> None:
        self.decoder = codecs.getincrementaldecoder(codec)(errors="replace")
        self.pieces: list[bytes] = []
        self.text: list[str] = []

    def add(self, pieces: list[bytes]) -> str:
        for piece in pieces:
            self.pieces.append(piece)
            self.text.append(self.decoder.decode(piece))
        return "".join(self.text)


class _LongLineGuard:
    """The caps of `_capped_lines`, applied to the start of a line still being read: the
    delimiter (forced, sniffed, or sniffed now from the start of the header line) and whether
    the line starts inside a quoted value (kept by `_capped_lines`)."""

    def __init__(self, options: FileOptions) -> None:
        self.delimiter = delimiter_char(options.delimiter) if options.delimiter else None
        self.quoted = False
        self.limit = max_import_columns()

    def check(self, text: str, number: int) -> None:
        delimiter = self.delimiter or sniff_delimiter(_sample(text))
        _scan_line(text, delimiter, number, self.limit, self.quoted)


def _wide_lines(stream: IO[bytes], codec: str) -> Iterator[str]:
    text = io.TextIOWrapper(stream, encoding=codec, newline="")  # type: ignore[type-var]
    number = 0
    try:
        for line in text:
            number += 1
            if "\x00" in line:
                raise _binary(number)
            yield line
    except UnicodeDecodeError:
        raise CsvFileError(
            RowError(number + 1, FILE, f"is not valid {LABELS.get(codec, codec)}")
        ) from None
    finally:
        text.detach()


def _cap_error(line: int, column: int, what: str) -> CsvFileError:
    return CsvFileError(RowError(line, f"column {column}", what))


def _too_many_columns(line: int, limit: int) -> CsvFileError:
    return _cap_error(
        line, limit + 1, f"the row has more than {limit} columns, the most an import reads"
    )


def _too_long(line: int, column: int) -> CsvFileError:
    return _cap_error(
        line, column, f"the value is longer than {MAX_FIELD_BYTES // 1024 // 1024} MB"
    )


def _capped_lines(
    lines: Iterator[str], delimiter: str, skipped: int, guard: _LongLineGuard | None = None
) -> Iterator[str]:
    """The physical lines, refused past the column and cell caps. Cheap for normal lines (two
    C-level counts); a suspicious one is scanned field by field without building the fields.
    `guard.quoted` follows the quote state for the next line's early check."""
    limit = max_import_columns()
    quoted = False  # inside a quoted value that spans lines
    number = skipped
    for line in lines:
        number += 1
        if line.count(delimiter) >= limit or len(line) > MAX_FIELD_BYTES:
            _scan_line(line, delimiter, number, limit, quoted)
        if line.count('"') % 2:
            quoted = not quoted
        if guard is not None:
            guard.quoted = quoted
        yield line


def _scan_line(line: str, delimiter: str, number: int, limit: int, quoted: bool) -> None:
    """Raise when `line` holds more than `limit` fields or a field over MAX_FIELD_BYTES."""
    position, column, end = 0, 1, len(line.rstrip("\r\n"))
    if quoted:  # the rest of a value from the line before: up to its closing quote
        closing = _QUOTED_REST.match(line)
        position = closing.end() if closing else end
    while position <= end:
        if line.startswith('"', position):
            match = _QUOTED.match(line, position)
            stop = match.end() if match else end
        else:
            found = line.find(delimiter, position, end)
            stop = end if found < 0 else found
        if stop - position > MAX_FIELD_BYTES:
            raise _too_long(number, column)
        found = line.find(delimiter, stop, end)
        if found < 0:
            return
        position, column = found + 1, column + 1
        if column > limit:
            raise _too_many_columns(number, limit)


_QUOTED = re.compile(r'"(?:[^"]|"")*"?')
_QUOTED_REST = re.compile(r'(?:[^"]|"")*"')


# --- XLSX ---------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """An openpyxl cell value -> the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, dt.timedelta):
        seconds = round(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


def _xlsx_records(stream: IO[bytes], sheet: str | None) -> Iterator[tuple[int, list[str]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, InvalidFileException, OSError, ValueError):
        raise CsvFileError(
            RowError(0, FILE, "is a zip file but not a readable XLSX workbook")
        ) from None
    try:
        if sheet:
            if sheet not in book.sheetnames:
                names = ", ".join(book.sheetnames)
                raise CsvFileError(
                    RowError(0, FILE, f"the workbook has no sheet named {sheet!r} (it has {names})")
                )
            ws = book[sheet]
        else:
            ws = book.worksheets[0]
        limit = max_import_columns()
        rows = ws.iter_rows(values_only=True, max_col=limit + 1)
        for number, row in enumerate(rows, start=1):
            fields = [cell_text(v) for v in row]
            while fields and not fields[-1]:
                fields.pop()
            if len(fields) > limit:
                raise _too_many_columns(number, limit)
            for column, text in enumerate(fields, start=1):
                if len(text) > MAX_FIELD_BYTES:
                    raise _too_long(number, column)
            if any(f.strip() for f in fields):
                yield number, fields
    finally:
        book.close()


def sha256_of(file: Any) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of an import file, for the import history."""
    digest = hashlib.sha256()
    size = 0
    with open_binary(file) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        if hasattr(stream, "seek"):
            try:
                stream.seek(0)
            except (OSError, io.UnsupportedOperation):
                pass
    return digest.hexdigest(), size


def describe_file(file: Any, name: str = "") -> ImportFile:
    """Name, SHA-256 and size of an import file for the history (``None``: JSON rows)."""
    if file is None:
        return ImportFile(name=name or "JSON rows")
    digest, size = sha256_of(file)
    if not name:
        raw = os.fspath(file) if isinstance(file, str | os.PathLike) else getattr(file, "name", "")
        name = os.path.basename(str(raw or ""))
    return ImportFile(name=name, sha256=digest, size=size)
