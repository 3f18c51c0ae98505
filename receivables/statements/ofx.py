"""OFX bank statements: OFX 1.x (SGML: a `OFXHEADER:100` header, leaf tags never closed) and OFX 2.x
(XML with an `<?OFX OFXHEADER="200" ...?>` processing instruction).

Both are read by one tokenizer over `<TAG>value`: every `<STMTTRN>` ... `</STMTTRN>` aggregate (closed
in both versions) is one transaction with TRNTYPE, DTPOSTED (`YYYYMMDD[HHMMSS[.XXX]][[-5:EST]]`),
TRNAMT (signed: > 0 is a credit), FITID (the bank's unique transaction ID), NAME or PAYEE/NAME, MEMO;
the statement's currency is CURDEF (a transaction's CURRENCY/CURSYM overrides it). A file that
declares a DTD or entities is refused, as for camt.053.
"""

from __future__ import annotations

import html
import re

from receivables.statements.base import (
    Credit,
    Lines,
    Statement,
    check_size,
    clean_text,
    decode_text,
    file_error,
    parse_amount,
    ymd,
)

_TAG_RE = re.compile(r"<(/?)([A-Za-z0-9.]+)>([^<]*)")
_DTD_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def parse(data: bytes) -> Statement:
    check_size(data)
    text, encoding = decode_text(data)
    lines = Lines(text)
    if match := _DTD_RE.search(text):
        raise file_error(
            lines.at(match.start()),
            "the file declares a DTD or entities (<!DOCTYPE/<!ENTITY); OFX statements never do, "
            "so the file is refused",
        )
    start = text.upper().find("<OFX>")
    if start < 0:
        raise file_error(1, "is not an OFX file (no <OFX> element)")
    statement = Statement("ofx", encoding=encoding)
    currency = ""
    current: dict[str, str] | None = None
    opened_at = 0
    for match in _TAG_RE.finditer(text, start):
        closing, tag, value = match.group(1), match.group(2).upper(), match.group(3).strip()
        if tag == "STMTTRN":
            if closing:
                if current is not None:
                    _transaction(current, lines.at(opened_at), currency, statement)
                current = None
            else:
                current, opened_at = {}, match.start()
        elif not closing and value:
            value = html.unescape(value) if "&" in value else value
            if current is not None:
                current.setdefault(tag, value)  # PAYEE/NAME after NAME does not replace it
            elif tag == "CURDEF":
                currency = value
    if current is not None:
        raise file_error(lines.at(opened_at), "a <STMTTRN> is never closed", "STMTTRN")
    return statement


def _transaction(tx: dict[str, str], line: int, currency: str, statement: Statement) -> None:
    amount_text = tx.get("TRNAMT", "")
    if not amount_text:
        raise file_error(line, "is missing", "TRNAMT")
    comma = "," in amount_text and "." not in amount_text
    amount = parse_amount(amount_text, line, "TRNAMT", comma=comma)
    if amount < 0:
        statement.debits += 1
        return
    if amount == 0:
        statement.skipped["zero amounts"] += 1
        return
    posted = tx.get("DTPOSTED", "")
    statement.credits.append(
        Credit(
            line=line,
            date=ymd(posted[:8], line, "DTPOSTED"),
            amount=amount,
            currency=(tx.get("CURSYM") or currency or "").upper(),
            bank_ref=tx.get("FITID", "")[:64],
            text=clean_text(tx.get("NAME", ""), tx.get("MEMO", "")),
            payer_name=tx.get("NAME", "")[:140],
            method=tx.get("TRNTYPE", "").lower(),
        )
    )
