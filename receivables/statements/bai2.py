"""BAI2 cash management balance reporting (the BAI / ANSI X9.121 layout US banks send).

Records are comma-separated and end with `/`; `88` continues the previous record. `01` file header,
`02` group header (as-of date YYMMDD in field 5, currency in field 7), `03` account (currency in
field 3), `16` transaction detail: type code, amount in cents (no decimal point), funds type (`S`
adds three amounts, `V` a value date and time, `D` a count and that many pairs), bank reference,
customer reference, then free text to the end of the record. `49`/`98`/`99` trailers. Detail type
codes 100-399 are credits, 400-699 debits; others (loans, custom codes) are skipped and counted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from receivables.statements.base import (
    Credit,
    Statement,
    check_size,
    clean_text,
    decode_text,
    file_error,
    ymd,
)

METHODS = {
    "108": "ACH credit",
    "142": "ACH credit",
    "165": "ACH credit",
    "169": "ACH credit",
    "175": "check deposit",
    "195": "incoming wire",
    "206": "book transfer",
    "301": "deposit",
}


def _records(text: str) -> list[tuple[int, str]]:
    """(physical line, record text) with `88` continuations joined on."""
    records: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("88,"):
            if not records:
                raise file_error(number, "a continuation (88) before any record", "88")
            start, previous = records[-1]
            # A transaction's free text continues with a space; other records with more fields.
            glue = " " if previous.startswith("16,") and previous.count(",") >= 6 else ","
            records[-1] = (start, previous.removesuffix("/") + glue + line[3:])
        else:
            records.append((number, line))
    return records


def parse(data: bytes) -> Statement:
    check_size(data)
    text, encoding = decode_text(data)
    records = _records(text)
    if not records or not records[0][1].startswith("01,"):
        raise file_error(1, "is not a BAI2 file (it does not start with a 01 file header)")
    statement = Statement("bai2", encoding=encoding)
    as_of: dt.date | None = None
    group_currency = account_currency = ""
    for line, record in records:
        code = record.split(",", 1)[0]
        if code == "02":
            fields = record.removesuffix("/").split(",")
            if len(fields) < 5:
                raise file_error(line, "the group header has fewer than 5 fields", "02")
            as_of = ymd(fields[4], line, "02 as-of date", two_digit_year=True)
            group_currency = fields[6].strip() if len(fields) > 6 else ""
            account_currency = ""
        elif code == "03":
            fields = record.removesuffix("/").split(",")
            account_currency = fields[2].strip() if len(fields) > 2 else ""
        elif code == "16":
            if as_of is None:
                raise file_error(line, "a transaction (16) before any group header (02)", "16")
            _detail(line, record, as_of, account_currency or group_currency or "USD", statement)
    return statement


def _detail(line: int, record: str, as_of: dt.date, currency: str, statement: Statement) -> None:
    fields = record.split(",")
    if len(fields) < 4:
        raise file_error(line, "a transaction (16) needs type code, amount and funds type", "16")
    type_code, amount_text, funds = fields[1].strip(), fields[2].strip(), fields[3].strip().upper()
    rest = fields[4:]
    if funds == "S":
        rest = rest[3:]
    elif funds == "V":
        rest = rest[2:]
    elif funds == "D":
        count = int(rest[0]) if rest and rest[0].strip().isdigit() else 0
        rest = rest[1 + 2 * count :]
    bank_ref = rest[0].strip() if rest else ""
    customer_ref = rest[1].strip() if len(rest) > 1 else ""
    free_text = ",".join(rest[2:]).strip().removesuffix("/") if len(rest) > 2 else ""
    if not type_code.isdigit() or not amount_text.isdigit():
        shown = type_code if not type_code.isdigit() else amount_text
        column = "16 type code" if not type_code.isdigit() else "16 amount"
        raise file_error(line, f"must be a whole number, got {shown!r}", column)
    number = int(type_code)
    if 400 <= number <= 699:
        statement.debits += 1
        return
    if not 100 <= number <= 399:
        statement.skipped["other transaction types (not 100-699)"] += 1
        return
    amount = Decimal(int(amount_text)) / 100  # BAI2 amounts are in cents
    if amount <= 0:
        statement.skipped["zero amounts"] += 1
        return
    statement.credits.append(
        Credit(
            line=line,
            date=as_of,
            amount=amount.quantize(Decimal("0.01")),
            currency=currency.upper(),
            bank_ref=bank_ref.removesuffix("/"),
            text=clean_text(customer_ref.removesuffix("/"), free_text),
            method=METHODS.get(type_code, f"BAI2 {type_code}"),
        )
    )
