"""Bank statements as payments (SPEC 1.4): each parser turns a file, as the bank writes it, into
credits (debits counted and skipped); ``base.to_rows`` makes them rows of
``receivables.importing.STATEMENT_COLUMNS`` for the one payment import.

``detect(head)`` recognises the source from the first bytes when the user gave none: an XML camt
document, a BAI2 `01,` header, an OFX header, MT940 `:20:` tags, a known bank CSV header; anything
else is the billable CSV of SPEC 1.3.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from receivables.statements import bai2, bank_csv, camt053, mt940, ofx
from receivables.statements.base import Statement, to_rows

SOURCES = ("billable", "camt053", "bai2", "ofx", "mt940", "bank-csv")
LABELS = {
    "billable": "billable (payments CSV, SPEC 1.3)",
    "camt053": "camt053 (ISO 20022 camt.053 XML)",
    "bai2": "bai2 (BAI2 cash management file)",
    "ofx": "ofx (OFX statement)",
    "mt940": "mt940 (SWIFT MT940 statement)",
    "bank-csv": "bank-csv (bank account CSV)",
}
PARSERS: dict[str, Callable[[bytes], Statement]] = {
    "camt053": camt053.parse,
    "bai2": bai2.parse,
    "ofx": ofx.parse,
    "mt940": mt940.parse,
    "bank-csv": bank_csv.parse,
}
HEAD_BYTES = 4096


def detect(head: bytes) -> str:
    """The source a file's first bytes show (see the module docstring)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore").lstrip()
    upper = text.upper()
    if b"OFXHEADER" in upper[:512] or b"<OFX>" in upper:
        return "ofx"
    if text.startswith(b"<"):
        return "camt053"
    if text.startswith(b"01,"):
        return "bai2"
    if re.search(rb"^:20:", text, re.MULTILINE) or (b"{4:" in text and b":20:" in text):
        return "mt940"
    if bank_csv.sniff(text):
        return "bank-csv"
    return "billable"


__all__ = ["LABELS", "PARSERS", "SOURCES", "Statement", "detect", "to_rows"]
