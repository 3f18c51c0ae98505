"""SWIFT MT940 customer statements, as banks export them (with or without the `{1:...}{4:` blocks).

Fields start with a tag at the start of a line (`:20:` reference, `:25:` account, `:28C:` number,
`:60F:`/`:60M:` opening balance `C260301EUR1234,56` with the currency, `:61:` statement line,
`:86:` information to the account owner, `:62F:` closing balance); other lines continue the field
above. `:61:` is `YYMMDD[MMDD]` value and entry date, `C`/`D` (`RC`/`RD` reversals), an optional
funds code, the amount with a decimal comma, the transaction type (`NTRF`...), the customer
reference, `//` and the bank's reference. `:86:` is free text, or the German structured form
(`?00` booking text, `?20`-`?29` and `?60`-`?63` remittance text, `?31` IBAN, `?32`/`?33` name).
"""

from __future__ import annotations

import datetime as dt
import re

from receivables.statements.base import (
    Credit,
    Statement,
    check_size,
    clean_text,
    decode_text,
    file_error,
    parse_amount,
    ymd,
)

_TAG_RE = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_LINE_RE = re.compile(
    r"(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?(?P<amount>\d+,\d*)"
    r"(?P<type>[NFS][A-Z0-9]{3})(?P<customer>.*?)(?://(?P<bank>.*))?$"
)
_SUBFIELD_RE = re.compile(r"\?(\d{2})")
NO_REF = {"", "NONREF", "NOTPROVIDED"}
_SEPA_RE = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC)\+")


def _fields(text: str) -> list[tuple[int, str, str]]:
    """(line, tag, value with continuation lines joined by newlines)."""
    fields: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        line = re.sub(r"^\{\d:[^{}]*\}(\{\d:[^{}]*\})*(\{4:)?", "", line)  # SWIFT blocks
        if line in {"-}", "-", "}"} or not line:
            continue
        match = _TAG_RE.match(line)
        if match:
            fields.append((number, match.group(1), match.group(2)))
        elif fields:
            start, tag, value = fields[-1]
            fields[-1] = (start, tag, value + "\n" + line)
    return fields


def parse(data: bytes) -> Statement:
    check_size(data)
    text, encoding = decode_text(data)
    fields = _fields(text)
    if not any(tag == "20" for _, tag, _ in fields):
        raise file_error(1, "is not an MT940 statement (no :20: field)")
    statement = Statement("mt940", encoding=encoding)
    currency = ""
    pending: tuple[int, re.Match[str]] | None = None
    for line, tag, value in fields:
        if tag in {"60F", "60M"}:
            currency = value[7:10]
        elif tag == "61":
            if pending:
                _line(*pending, "", currency, statement)
            match = _LINE_RE.match(value.split("\n", 1)[0].strip())
            if match is None:
                raise file_error(line, f"is not a statement line, got {value[:40]!r}", ":61:")
            pending = (line, match)
        elif tag == "86" and pending:
            _line(*pending, value, currency, statement)
            pending = None
    if pending:
        _line(*pending, "", currency, statement)
    return statement


def _line(line: int, m: re.Match[str], info: str, currency: str, statement: Statement) -> None:
    mark = m.group("mark")
    if mark.startswith("R"):
        statement.skipped["reversals"] += 1
        return
    if mark == "D":
        statement.debits += 1
        return
    value_date = ymd(m.group("value"), line, ":61:", two_digit_year=True)
    date = value_date
    if m.group("entry"):
        month, day = int(m.group("entry")[:2]), int(m.group("entry")[2:])
        year = value_date.year
        if month == 1 and value_date.month == 12:
            year += 1
        elif month == 12 and value_date.month == 1:
            year -= 1
        try:
            date = dt.date(year, month, day)
        except ValueError:
            raise file_error(line, f"entry date {m.group('entry')} is not real", ":61:") from None
    amount = parse_amount(m.group("amount"), line, ":61:", comma=True)
    if amount == 0:
        statement.skipped["zero amounts"] += 1
        return
    text, name, iban, booking = _information(info)
    bank = (m.group("bank") or "").strip()
    statement.credits.append(
        Credit(
            line=line,
            date=date,
            amount=amount,
            currency=currency.upper(),
            bank_ref="" if bank.upper() in NO_REF else bank[:64],
            text=text,
            payer_name=name[:140],
            payer_iban=iban,
            method=booking or m.group("type")[1:],
        )
    )


def _sepa_purpose(text: str) -> str:
    """SEPA remittance written as `EREF+...SVWZ+...`: the purpose (SVWZ) and a real end-to-end
    reference; text without those keywords as it is."""
    pieces = _SEPA_RE.split(text)
    if len(pieces) < 3:
        return text
    found = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    eref = found.get("EREF", "").strip()
    return clean_text(found.get("SVWZ", ""), "" if eref.upper() in NO_REF else eref)


def _information(info: str) -> tuple[str, str, str, str]:
    """`:86:` -> (remittance text, payer name, payer IBAN, booking text)."""
    flat = info.replace("\n", "")  # lines are wrapped at 65 characters, mid-word
    if not re.match(r"(\d{3})?\?\d{2}", flat):  # German structured: GVC code, then ?NN subfields
        return clean_text(flat), "", "", ""
    parts: dict[str, str] = {}
    pieces = _SUBFIELD_RE.split(flat)
    for index in range(1, len(pieces) - 1, 2):
        parts[pieces[index]] = parts.get(pieces[index], "") + pieces[index + 1]
    remittance = _sepa_purpose(
        "".join(parts.get(f"{n:02d}", "") for n in [*range(20, 30), *range(60, 64)])
    )
    iban = parts.get("31", "").replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
        iban = ""
    name = clean_text(parts.get("32", "") + parts.get("33", ""))
    return clean_text(remittance), name, iban, clean_text(parts.get("00", ""))[:64]
