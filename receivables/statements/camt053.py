"""ISO 20022 camt.053 (bank-to-customer statement) XML, any version (.001.02 to .001.13).

Structure (Document/BkToCstmrStmt/Stmt/Ntry): each booked entry has Amt (with Ccy), CdtDbtInd
CRDT/DBIT, BookgDt, AcctSvcrRef, and NtryDtls/TxDtls with Refs, RltdPties (Dbtr/Nm or Dbtr/Pty/Nm,
DbtrAcct/Id/IBAN) and RmtInf (Ustrd lines, Strd/CdtrRefInf/Ref). A batched entry carries one TxDtls
per payment, each with its own AmtDtls/TxAmt/Amt: each becomes a credit. Elements are matched by
local name, so every namespace version reads the same.

Safety: the document is parsed by lxml with entities unresolved, no DTD, no network and no huge
trees; a document that declares a DTD or entities is refused before parsing (camt.053 never has
one), which stops billion-laughs and external-entity files.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from lxml import etree

from receivables.statements.base import (
    Credit,
    Statement,
    check_size,
    clean_text,
    file_error,
    parse_amount,
)

_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _name(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if el is None:
        return
    for child in el:
        if _name(child) == name:
            yield child


def _find(el: etree._Element | None, path: str) -> etree._Element | None:
    for name in path.split("/"):
        el = next(_children(el, name), None)
        if el is None:
            return None
    return el


def _text(el: etree._Element | None, path: str) -> str:
    found = _find(el, path)
    return (found.text or "").strip() if found is not None else ""


def safe_parse(data: bytes) -> etree._Element:
    """Parse untrusted XML: refuse DTDs and entities, never fetch, never expand."""
    check_size(data)
    match = _DTD_RE.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        raise file_error(
            line,
            "the XML declares a DTD or entities (<!DOCTYPE/<!ENTITY); bank statements never "
            "do, so the file is refused",
        )
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise file_error(exc.lineno or 0, f"is not well-formed XML ({exc.msg})") from None


def parse(data: bytes) -> Statement:
    root = safe_parse(data)
    body = _find(root, "BkToCstmrStmt")
    if _name(root) != "Document" or body is None:
        namespace = etree.QName(root).namespace or ""
        kind = re.search(r"camt\.\d{3}", namespace)
        shown = kind.group(0) if kind else f"<{_name(root)}>"
        raise file_error(
            root.sourceline or 1,
            f"is not a camt.053 statement (it is {shown}); export the camt.053 end-of-day statement",
        )
    statement = Statement("camt053")
    for stmt in _children(body, "Stmt"):
        account_currency = _text(stmt, "Acct/Ccy")
        for entry in _children(stmt, "Ntry"):
            _entry(entry, account_currency, statement)
    return statement


def _entry(entry: etree._Element, account_currency: str, statement: Statement) -> None:
    line = entry.sourceline or 0
    status = _text(entry, "Sts") or _text(entry, "Sts/Cd")
    if status and status.upper() != "BOOK":
        statement.skipped["not booked (pending) entries"] += 1
        return
    if _text(entry, "RvslInd").lower() == "true":
        statement.skipped["reversals"] += 1
        return
    indicator = _text(entry, "CdtDbtInd")
    if indicator == "DBIT":
        statement.debits += 1
        return
    if indicator != "CRDT":
        raise file_error(line, f"must be CRDT or DBIT, got {indicator!r}", "CdtDbtInd")
    date_text = (
        _text(entry, "BookgDt/Dt") or _text(entry, "BookgDt/DtTm")[:10] or _text(entry, "ValDt/Dt")
    )
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date_text):
        raise file_error(line, f"must be a date as YYYY-MM-DD, got {date_text!r}", "BookgDt")
    try:
        date = dt.date.fromisoformat(date_text)
    except ValueError:
        raise file_error(line, f"is not a real date, got {date_text!r}", "BookgDt") from None
    details = list(_children(_find(entry, "NtryDtls"), "TxDtls"))
    batched = len(details) > 1 and all(_find(d, "AmtDtls/TxAmt/Amt") is not None for d in details)
    for tx in details if batched else [details[0] if details else None]:
        amount_el = _find(tx, "AmtDtls/TxAmt/Amt") if batched else _find(entry, "Amt")
        if amount_el is None:
            raise file_error(line, "is missing", "Amt")
        tx_line = (tx.sourceline if batched and tx is not None else None) or line
        amount = parse_amount(amount_el.text or "", amount_el.sourceline or tx_line, "Amt")
        entry_ref = _text(entry, "AcctSvcrRef")
        tx_ref = _text(tx, "Refs/AcctSvcrRef")
        statement.credits.append(
            Credit(
                line=tx_line,
                date=date,
                amount=amount,
                currency=(amount_el.get("Ccy") or account_currency or "").strip().upper(),
                bank_ref=tx_ref or ("" if batched else entry_ref),
                text=clean_text(
                    *(u.text or "" for u in _children(_find(tx, "RmtInf"), "Ustrd")),
                    _text(tx, "RmtInf/Strd/CdtrRefInf/Ref"),
                    _text(entry, "AddtlNtryInf"),
                ),
                payer_name=(_text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm"))[
                    :140
                ],
                payer_iban=_text(tx, "RltdPties/DbtrAcct/Id/IBAN").replace(" ", "").upper(),
                method=_method(entry),
            )
        )


def _method(entry: etree._Element) -> str:
    codes = [
        _text(entry, "BkTxCd/Domn/Cd"),
        _text(entry, "BkTxCd/Domn/Fmly/Cd"),
        _text(entry, "BkTxCd/Domn/Fmly/SubFmlyCd"),
    ]
    if any(codes):
        return "/".join(c for c in codes if c)
    return _text(entry, "BkTxCd/Prtry/Cd")[:64]
