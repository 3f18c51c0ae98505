"""What every bank statement parser shares: the credit it yields, the statement it returns, decoding,
line numbers and the derived Payment ID of SPEC 1.4. Pure: no database, no Django models."""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from core.csvio import BOM, FILE, CsvFileError, Row, max_import_bytes, too_large_error
from core.imports import RowError

# A credit's text goes into the payment's Reference (SPEC 1.3 allows 500 characters).
MAX_TEXT = 500


@dataclass(frozen=True)
class Credit:
    """One incoming payment as the bank wrote it (amount > 0)."""

    line: int  # physical line of the transaction in the file
    date: dt.date
    amount: Decimal
    currency: str
    bank_ref: str  # the bank's own reference, "" when the format or the bank gives none
    text: str  # remittance information: where invoice numbers and Account IDs are looked for
    payer_name: str = ""
    payer_iban: str = ""
    method: str = ""


@dataclass
class Statement:
    source: str
    credits: list[Credit] = field(default_factory=list)
    debits: int = 0  # counted and skipped (SPEC 1.4)
    skipped: Counter[str] = field(default_factory=Counter)  # other lines skipped, by reason
    encoding: str = ""  # set when the text was read as something other than UTF-8

    def summary(self, label: str) -> str:
        parts = [
            f"Read as {label}: {len(self.credits)} credit(s)",
            f"{self.debits} debit(s) skipped",
        ]
        parts += [f"{n} {reason} skipped" for reason, n in sorted(self.skipped.items())]
        if self.encoding:
            parts.append(f"read as {self.encoding}")
        return "; ".join(parts) + "."


def file_error(line: int, message: str, column: str = FILE) -> CsvFileError:
    return CsvFileError(RowError(line, column, message))


def check_size(data: bytes) -> None:
    limit = max_import_bytes()
    if len(data) > limit:
        raise CsvFileError(too_large_error(limit))


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 (BOM or not), UTF-16 by its BOM, else Windows-1252: (text, "" or the encoding's name
    for the summary)."""
    if data.startswith(BOM):
        return data[len(BOM) :].decode("utf-8", errors="replace"), ""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


class Lines:
    """Offset -> physical line number for a decoded text."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)


def clean_text(*parts: str) -> str:
    """Non-empty parts joined by one space, whitespace collapsed, cut to MAX_TEXT."""
    return " ".join(" ".join(p.split()) for p in parts if p and p.strip())[:MAX_TEXT]


def parse_amount(text: str, line: int, column: str, *, comma: bool = False) -> Decimal:
    """A bank amount as written (`1500.00`, `-45.00`, `3.750,00` when comma) -> Decimal."""
    raw = text.strip().replace(" ", "")
    if comma:
        raw = raw.replace(".", "").replace(",", ".")
    try:
        if not re.fullmatch(r"[+-]?\d+(\.\d*)?|[+-]?\.\d+", raw):
            raise InvalidOperation
        return Decimal(raw)
    except InvalidOperation:
        raise file_error(line, f"is not an amount, got {text.strip()!r}", column) from None


def ymd(text: str, line: int, column: str, *, two_digit_year: bool = False) -> dt.date:
    """`YYYYMMDD` (or `YYMMDD`, 20YY) -> date."""
    digits = 6 if two_digit_year else 8
    if not re.fullmatch(rf"\d{{{digits}}}", text):
        shape = "YYMMDD" if two_digit_year else "YYYYMMDD"
        raise file_error(line, f"must be a date as {shape}, got {text!r}", column)
    year = 2000 + int(text[:2]) if two_digit_year else int(text[:4])
    rest = text[2:] if two_digit_year else text[4:]
    try:
        return dt.date(year, int(rest[:2]), int(rest[2:4]))
    except ValueError:
        raise file_error(line, f"is not a real date, got {text!r}", column) from None


def derived_id(source: str, credit: Credit, n: int) -> str:
    """SPEC 1.4: `<source>:<first 16 hex of SHA-256 of date, amount, text, n>`; n counts identical
    credits within the file, so re-importing the same statement finds the same keys."""
    key = "\x1f".join([credit.date.isoformat(), f"{credit.amount:.2f}", credit.text, str(n)])
    return f"{source}:{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def to_rows(statement: Statement) -> list[Row]:
    """The credits as rows of receivables.importing.STATEMENT_COLUMNS."""
    seen: Counter[tuple[dt.date, Decimal, str]] = Counter()
    rows = []
    for credit in statement.credits:
        payment_id = credit.bank_ref.strip()
        if not payment_id:
            seen[(credit.date, credit.amount, credit.text)] += 1
            payment_id = derived_id(
                statement.source, credit, seen[(credit.date, credit.amount, credit.text)]
            )
        values = (
            payment_id,
            credit.date.isoformat(),
            f"{credit.amount}",
            credit.currency,
            credit.text,
            credit.method[:64],
            credit.payer_name,
            credit.payer_iban,
        )
        rows.append(Row(credit.line, values))
    return rows
