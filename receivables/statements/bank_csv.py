"""Bank account CSV downloads, recognised by their header row.

- Chase (checking): `Details,Posting Date,Description,Amount,Type,Balance,Check or Slip #`, dates
  MM/DD/YYYY, signed amounts (`-45.00` a debit), and a trailing comma on every data row.
- German savings banks (Sparkasse "CSV-CAMT" and "CSV-MT940"): `;`-separated, Windows-1252,
  `"Auftragskonto";"Buchungstag";"Valutadatum";"Buchungstext";"Verwendungszweck";...;
  "Beguenstigter/Zahlungspflichtiger";"Kontonummer/IBAN";...;"Betrag";"Waehrung";"Info"`, dates
  DD.MM.YY, amounts with a decimal comma (`3.750,00`, `-12,50`); Info "Umsatz vorgemerkt" marks a
  pending line (skipped, counted).
Neither has a transaction ID: each credit gets the derived Payment ID of SPEC 1.4.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass

from core.csvio import normalize_header
from receivables.statements.base import (
    Credit,
    Statement,
    check_size,
    clean_text,
    decode_text,
    file_error,
    parse_amount,
)


@dataclass(frozen=True)
class Layout:
    name: str
    required: frozenset[str]  # normalized header names that identify it
    date: str
    date_order: str  # "mdy" or "dmy"
    amount: str
    decimal_comma: bool
    text: tuple[str, ...]
    payer_name: str = ""
    payer_iban: str = ""
    currency: str = ""
    default_currency: str = "USD"
    method: str = ""
    pending: tuple[str, str] | None = None  # (column, value) of a not yet booked line


LAYOUTS = (
    Layout(
        "Chase",
        frozenset({"details", "posting date", "description", "amount", "type", "balance"}),
        date="posting date",
        date_order="mdy",
        amount="amount",
        decimal_comma=False,
        text=("description",),
        method="type",
    ),
    Layout(
        "Sparkasse",
        frozenset({"auftragskonto", "buchungstag", "verwendungszweck", "betrag"}),
        date="buchungstag",
        date_order="dmy",
        amount="betrag",
        decimal_comma=True,
        text=("verwendungszweck", "kundenreferenz (end-to-end)"),
        payer_name="beguenstigter/zahlungspflichtiger",
        payer_iban="kontonummer/iban",
        currency="waehrung",
        default_currency="EUR",
        method="buchungstext",
        pending=("info", "umsatz vorgemerkt"),
    ),
)


def _split(text: str) -> list[tuple[int, list[str]]]:
    """(physical line where the record starts, fields), `;` or `,` as the header uses more."""
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    out, last = [], 0
    try:
        for fields in reader:
            out.append((last + 1, fields))
            last = reader.line_num
    except csv.Error as exc:
        raise file_error(last + 1, f"is not valid CSV ({exc})") from None
    return out


def layout_of(header: list[str]) -> Layout | None:
    names = {normalize_header(h) for h in header}
    return next((layout for layout in LAYOUTS if layout.required <= names), None)


def sniff(head: bytes) -> bool:
    """True when the first line is the header of a bank CSV layout this module reads."""
    text, _ = decode_text(head)
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    rows = _split(first)
    return bool(rows) and layout_of(rows[0][1]) is not None


def _date(text: str, order: str, line: int, column: str) -> dt.date:
    m = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{2}|\d{4})", text.strip())
    if not m:
        shape = "MM/DD/YYYY" if order == "mdy" else "DD.MM.YY"
        raise file_error(line, f"must be a date as {shape}, got {text!r}", column)
    a, b, year = int(m[1]), int(m[2]), int(m[3])
    month, day = (a, b) if order == "mdy" else (b, a)
    try:
        return dt.date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        raise file_error(line, f"is not a real date, got {text!r}", column) from None


def _iban(text: str) -> str:
    iban = text.replace(" ", "").upper()
    return iban if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban) else ""


def parse(data: bytes) -> Statement:
    check_size(data)
    text, encoding = decode_text(data)
    rows = _split(text.lstrip("\ufeff"))
    if not rows:
        raise file_error(0, "the file is empty")
    header = rows[0][1]
    layout = layout_of(header)
    if layout is None:
        raise file_error(1, "is not a bank CSV this import knows (Chase, Sparkasse)")
    index = {normalize_header(h): i for i, h in enumerate(header)}
    shown = {normalize_header(h): h.strip() for h in header}
    statement = Statement("bank-csv", encoding=encoding)
    for number, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue

        def cell(name: str, row: list[str] = row) -> str:
            position = index.get(name)
            return row[position].strip() if position is not None and position < len(row) else ""

        if layout.pending and cell(layout.pending[0]).lower() == layout.pending[1]:
            statement.skipped["pending lines"] += 1
            continue
        column = shown[layout.amount]
        amount = parse_amount(cell(layout.amount), number, column, comma=layout.decimal_comma)
        if amount < 0:
            statement.debits += 1
            continue
        if amount == 0:
            statement.skipped["zero amounts"] += 1
            continue
        statement.credits.append(
            Credit(
                line=number,
                date=_date(cell(layout.date), layout.date_order, number, shown[layout.date]),
                amount=amount,
                currency=(cell(layout.currency) if layout.currency else "")
                or layout.default_currency,
                bank_ref="",
                text=clean_text(*(cell(c) for c in layout.text if cell(c) != "NOTPROVIDED")),
                payer_name=cell(layout.payer_name)[:140] if layout.payer_name else "",
                payer_iban=_iban(cell(layout.payer_iban)) if layout.payer_iban else "",
                method=cell(layout.method)[:64] if layout.method else "",
            )
        )
    return statement
