"""Reading CSV imports (SPEC section 1), shared by every importer.

Every import reads its file through this module so that decoding, limits, quoting, line numbers,
header matching and the field formats behave the same way for agreements, time entries and
payments. Nothing here touches the database.

API
---
``CsvReader(file, *, columns, required=(), max_bytes=None)``
    SPEC's own layout read through ``core.reading.TableReader`` (SPEC 1.4 file reading: UTF-8,
    UTF-16 by BOM, else Windows-1252; sniffed delimiter; XLSX), for an importer without sources
    of its own. Iterating yields ``Row(line, values)``: ``values`` aligned with ``columns``,
    trimmed, ``""`` for an empty cell or an absent optional column; ``line`` is the PHYSICAL line
    on which the record starts (the header is line 1). Problems of single records go to
    ``reader.errors``; whole-file problems raise ``CsvFileError`` (empty file, no data rows,
    missing required column, binary content, too large, malformed quoting), possibly part-way.

``rows_from_dicts(rows, *, columns)``
    The same ``Row`` objects from a JSON list of objects keyed by SPEC column names (matched
    case-insensitively after trimming), ``line = index + 2`` as if row 1 were a header. Values may be
    strings, numbers, booleans or null. Raises ``CsvFileError`` for a body that is not a non-empty
    list of objects.

Field parsers (``parse_bool``, ``parse_date``, ``parse_decimal``, ``parse_amount``,
``parse_currency``, ``parse_whole``) take a trimmed non-empty string and return the value or raise
``FieldError`` with a message a user can read; ``Fields`` wraps them for one row so an importer
writes ``f.date("Start Date", required=True)`` and gets ``None`` plus a recorded
``RowError(line, "Start Date", message)`` when the value is wrong.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings

from core.dates import MAX_YEAR, MIN_YEAR
from core.imports import RowError

FILE = "File"  # the column named in errors about the file as a whole
BOM = b"\xef\xbb\xbf"
# Cells up to 1 MB (Python's default of 128 KB is too small for long Notes); the reading layer
# checks both caps itself first so its error names the line and column (core/reading/files.py).
MAX_FIELD_BYTES = 1024 * 1024
csv.field_size_limit(MAX_FIELD_BYTES)

# Active ISO 4217 currency codes (2024), plus the precious-metal and fund codes banks use rarely.
ISO_4217 = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
    EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
    KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
    MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
    RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
    TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD XPF
    XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()
)


class CsvFileError(Exception):
    """The file as a whole cannot be imported; ``error`` says why (and on which line, if known)."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


class FieldError(ValueError):
    """One value is wrong; the message is shown after ``line N: Column:``."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: tuple[str, ...]


def max_import_bytes() -> int:
    return int(getattr(settings, "BILLING_IMPORT_MAX_BYTES", 50 * 1024 * 1024))


def max_import_columns() -> int:
    """Columns per row an import reads at most (a header of millions of columns is refused)."""
    return int(getattr(settings, "BILLING_IMPORT_MAX_COLUMNS", 1000))


def size_text(n: int) -> str:
    """Bytes as a short human size ("50 MB")."""
    if n >= 1024 * 1024:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} bytes"


def too_large_error(limit: int) -> RowError:
    return RowError(0, FILE, f"the file is larger than the import limit of {size_text(limit)}")


def _known_size(file: Any) -> int | None:
    size = getattr(file, "size", None)  # Django UploadedFile
    if isinstance(size, int):
        return size
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        pass
    if isinstance(file, io.BytesIO):
        return file.getbuffer().nbytes
    return None


@contextmanager
def open_binary(file: Any) -> Iterator[IO[bytes]]:
    """Bytes, a path or a binary file object -> a binary stream (closed afterwards if we opened it)."""
    if isinstance(file, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(file))
    elif isinstance(file, str | os.PathLike):
        try:
            handle = open(file, "rb")  # noqa: SIM115
        except OSError as exc:
            raise CsvFileError(
                RowError(0, FILE, f"cannot read {os.fspath(file)}: {exc.strerror}")
            ) from exc
        with handle:
            yield handle
    elif hasattr(file, "read"):
        if hasattr(file, "seek"):
            try:
                file.seek(0)
            except (OSError, io.UnsupportedOperation):
                pass
        yield file
    else:
        raise TypeError(f"cannot import from {type(file).__name__}; pass bytes, a path or a file")


def normalize_header(name: str) -> str:
    return " ".join(name.strip().lower().split())


class CsvReader:
    """SPEC's own layout (columns, required ones) read through ``core.reading.TableReader``, so
    every import decodes, sniffs and counts lines the same way; for importers without sources."""

    def __init__(
        self,
        file: Any,
        *,
        columns: Sequence[str],
        required: Iterable[str] = (),
        max_bytes: int | None = None,
    ) -> None:
        from core.reading import Schema, Source, SourceSet, TableReader

        self.columns = tuple(columns)
        self.required = frozenset(required)
        unknown = self.required - set(self.columns)
        if unknown:
            raise ValueError(f"required columns not in columns: {sorted(unknown)}")
        schema = Schema("csv", self.columns, self.required)
        own = Source(
            "billable", "Billable", "csv", signature=frozenset(map(normalize_header, self.required))
        )
        self.reader = TableReader(file, sources=SourceSet(schema, own), max_bytes=max_bytes)

    @property
    def errors(self) -> list[RowError]:
        return self.reader.errors

    @property
    def rows_read(self) -> int:
        return self.reader.rows_read

    def __iter__(self) -> Iterator[Row]:
        return iter(self.reader)


def rows_from_dicts(rows: Any, *, columns: Sequence[str]) -> list[Row]:
    """JSON rows -> Row objects (line = index + 2); see the module docstring."""
    if not isinstance(rows, list):
        raise CsvFileError(RowError(0, FILE, "expected a list of rows (JSON objects)"))
    if not rows:
        raise CsvFileError(RowError(0, FILE, "the list of rows is empty"))
    keys = [normalize_header(c) for c in columns]
    out: list[Row] = []
    for index, item in enumerate(rows):
        line = index + 2
        if not isinstance(item, dict):
            raise CsvFileError(RowError(line, FILE, "each row must be a JSON object"))
        by_key = {normalize_header(str(k)): v for k, v in item.items()}
        values = []
        for key, column in zip(keys, columns, strict=True):
            value = by_key.get(key)
            if value is None:
                values.append("")
            elif isinstance(value, bool):
                values.append("yes" if value else "no")
            elif isinstance(value, str):
                values.append(value.strip())
            elif isinstance(value, int | Decimal):
                values.append(str(value))
            elif type(value).__name__ == "float":
                # JSON numbers arrive as floats; repr gives the shortest text that round-trips.
                values.append(repr(value))
            else:
                raise CsvFileError(RowError(line, column, "must be text or a number"))
        out.append(Row(line, tuple(values)))
    return out


# --- field parsers ------------------------------------------------------------------------------

_BOOLS = {
    "yes": True, "y": True, "true": True, "1": True,
    "no": False, "n": False, "false": False, "0": False,
}  # fmt: skip
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_WHOLE = re.compile(r"\d+")
# Longer than any number a column holds (14 digits, a sign, a point, 4 places, zero padding);
# checked before int()/Decimal() so a 100,000-digit cell is refused, not converted.
MAX_NUMBER_CHARS = 40


def check_number_length(text: str) -> None:
    """Refuse a number cell too long to be a real value (before any conversion)."""
    if len(text) > MAX_NUMBER_CHARS:
        raise FieldError(
            f"must be a number of at most {MAX_NUMBER_CHARS} characters (it has {len(text)})"
        )


def parse_bool(text: str) -> bool:
    try:
        return _BOOLS[text.lower()]
    except KeyError:
        raise FieldError(f"must be yes/no, y/n, true/false or 1/0, got {text!r}") from None


def parse_date(text: str) -> dt.date:
    m = _ISO_DATE.fullmatch(text)
    if m:
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _US_DATE.fullmatch(text)
        if not m:
            raise FieldError(f"must be a date as YYYY-MM-DD or MM/DD/YYYY, got {text!r}")
        month, day, year = int(m[1]), int(m[2]), int(m[3])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FieldError(f"year {year} is out of range ({MIN_YEAR}-{MAX_YEAR}), got {text!r}")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise FieldError(f"is not a real date, got {text!r}") from None


def parse_decimal(
    text: str,
    *,
    places: int | None = None,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    exclusive_minimum: bool = False,
    max_digits: int | None = None,
) -> Decimal:
    """A plain decimal number ("1500", "12.5"): no thousands separators, symbols or exponents."""
    check_number_length(text)
    if not _DECIMAL.fullmatch(text):
        hint = ""
        if "," in text:
            hint = " (no thousands separators or decimal commas)"
        elif any(c in text for c in "$€£¥%"):
            hint = " (no currency or percent signs)"
        raise FieldError(f"must be a number{hint}, got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid literals
        raise FieldError(f"must be a number, got {text!r}") from None
    if places is not None and "." in text and len(text.split(".", 1)[1].rstrip("0")) > places:
        raise FieldError(f"must have at most {places} decimal places, got {text!r}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise FieldError(f"must be greater than {minimum}, got {text!r}")
        if not exclusive_minimum and value < minimum:
            raise FieldError(f"must be at least {minimum}, got {text!r}")
    if maximum is not None and value > maximum:
        raise FieldError(f"must be at most {maximum}, got {text!r}")
    if max_digits is not None and places is not None:
        if abs(value) >= Decimal(10) ** (max_digits - places):
            raise FieldError(f"is too large, got {text!r}")
    return value


def parse_amount(text: str, *, allow_zero: bool = False) -> Decimal:
    """A money amount: > 0 (or >= 0), at most 2 decimal places, fits DecimalField(14, 2)."""
    return parse_decimal(
        text,
        places=2,
        minimum=Decimal(0),
        exclusive_minimum=not allow_zero,
        max_digits=14,
    )


def parse_currency(text: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", text):
        raise FieldError(f"must be a 3-letter ISO 4217 code in capitals such as USD, got {text!r}")
    if text not in ISO_4217:
        raise FieldError(f"is not an ISO 4217 currency code, got {text!r}")
    return text


def parse_whole(text: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    check_number_length(text)
    if not _WHOLE.fullmatch(text):
        raise FieldError(f"must be a whole number, got {text!r}")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum}" if maximum is not None else ""
        raise FieldError(f"must be between {minimum}{upper}, got {text!r}")
    return value


class Fields:
    """One row's values by column name, with parsers that record errors instead of raising.

    Each getter returns the parsed value, ``None`` (or the default) for an empty optional value,
    and ``None`` after recording ``RowError(line, column, message)`` for a wrong one; check
    ``ok`` (or compare the error count) before using the row.
    """

    def __init__(self, row: Row, columns: Sequence[str], errors: list[RowError]) -> None:
        self.line = row.line
        self._values = dict(zip(columns, row.values, strict=True))
        self._errors = errors
        self._start = len(errors)

    @property
    def ok(self) -> bool:
        return len(self._errors) == self._start

    def error(self, column: str, message: str) -> None:
        self._errors.append(RowError(self.line, column, message))

    def raw(self, column: str) -> str:
        return self._values[column]

    def text(self, column: str, *, required: bool = False, max_length: int | None = None) -> str:
        value = self._values[column]
        if not value:
            if required:
                self.error(column, "is required")
            return ""
        if max_length is not None and len(value) > max_length:
            self.error(column, f"must be at most {max_length} characters (it has {len(value)})")
            return ""
        return value

    def _parse(self, column: str, required: bool, parser: Any, **kwargs: Any) -> Any:
        value = self._values[column]
        if not value:
            if required:
                self.error(column, "is required")
            return None
        try:
            return parser(value, **kwargs)
        except FieldError as exc:
            self.error(column, str(exc))
            return None

    def boolean(
        self, column: str, *, required: bool = False, default: bool | None = None
    ) -> bool | None:
        value = self._parse(column, required, parse_bool)
        return default if value is None and not self._values[column] else value

    def date(self, column: str, *, required: bool = False) -> dt.date | None:
        return self._parse(column, required, parse_date)

    def decimal(self, column: str, *, required: bool = False, **kwargs: Any) -> Decimal | None:
        return self._parse(column, required, parse_decimal, **kwargs)

    def amount(
        self, column: str, *, required: bool = False, allow_zero: bool = False
    ) -> Decimal | None:
        return self._parse(column, required, parse_amount, allow_zero=allow_zero)

    def currency(self, column: str, *, default: str = "USD") -> str | None:
        if not self._values[column]:
            return default
        return self._parse(column, True, parse_currency)

    def whole(
        self, column: str, *, required: bool = False, default: int | None = None, **kwargs: Any
    ) -> int | None:
        if not self._values[column]:
            if required:
                self.error(column, "is required")
            return default
        return self._parse(column, True, parse_whole, **kwargs)
