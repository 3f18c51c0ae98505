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
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.csvio import FieldError, max_import_bytes, normalize_header
from core.reading.files import FileOptions, Table, sniff_delimiter
from core.reading.values import ValueOptions, normalize_date, normalize_money
from receivables.statements.base import (
    Credit,
    Statement,
    check_size,
    clean_text,
    decode_text,
    file_error,
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


def layout_of(header: list[str]) -> Layout | None:
    names = {normalize_header(h) for h in header}
    return next((layout for layout in LAYOUTS if layout.required <= names), None)


def sniff(head: bytes) -> bool:
    """True when the first line is the header of a bank CSV layout this module reads."""
    text, _ = decode_text(head)
    # splitlines: a file with bare CR line ends (or random bytes) must not reach csv as one line.
    lines = text.lstrip("\ufeff").splitlines()
    first = lines[0].strip() if lines else ""
    try:
        fields = next(csv.reader([first], delimiter=sniff_delimiter(first)), [])
    except csv.Error:
        return False
    return layout_of(fields) is not None


def _value(normalize: Any, text: str, options: ValueOptions, line: int, column: str) -> str:
    try:
        return normalize(text, options)
    except FieldError as exc:
        raise file_error(line, str(exc), column) from None


def _iban(text: str) -> str:
    iban = text.replace(" ", "").upper()
    return iban if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban) else ""


def parse(data: bytes) -> Statement:
    """Records through the shared file reader (encoding, delimiter, XLSX: core.reading.files),
    cells through its value rules in the layout's own date order and decimal mark."""
    check_size(data)
    table = Table(data, FileOptions(), max_bytes=max_import_bytes())
    records = table.records()
    first = next(records, None)
    if first is None:
        raise file_error(0, "the file is empty")
    header = first[1]
    layout = layout_of(header)
    if layout is None:
        raise file_error(first[0], "is not a bank CSV this import knows (Chase, Sparkasse)")
    index = {normalize_header(h): i for i, h in enumerate(header)}
    shown = {normalize_header(h): h.strip() for h in header}
    options = ValueOptions(layout.date_order, "comma" if layout.decimal_comma else "point")
    encoding = "" if table.encoding in ("UTF-8", "ASCII", "XLSX") else table.encoding
    statement = Statement("bank-csv", encoding=encoding)
    for number, row in records:

        def cell(name: str, row: list[str] = row) -> str:
            position = index.get(name)
            return row[position].strip() if position is not None and position < len(row) else ""

        if layout.pending and cell(layout.pending[0]).lower() == layout.pending[1]:
            statement.skipped["pending lines"] += 1
            continue
        amount_text = cell(layout.amount)
        column = shown[layout.amount]
        if not amount_text:
            raise file_error(number, "is required", column)
        amount = Decimal(_value(normalize_money, amount_text, options, number, column))
        if amount < 0:
            statement.debits += 1
            continue
        if amount == 0:
            statement.skipped["zero amounts"] += 1
            continue
        date_text = cell(layout.date)
        iso = _value(normalize_date, date_text, options, number, shown[layout.date])
        statement.credits.append(
            Credit(
                line=number,
                date=dt.date.fromisoformat(iso),
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
