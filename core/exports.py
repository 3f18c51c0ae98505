"""Spreadsheet-safe cells for every CSV and XLSX export (SPEC 4: no live formula)."""

from __future__ import annotations

import re
from typing import Any

# A spreadsheet runs text starting with one of these as a formula (tab and CR too, in some).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def neutralize(value: Any) -> str:
    """The cell as text, with a leading `'` when a spreadsheet would run it; numbers stay numbers
    ('-25.00' is a credit balance, not a formula). None becomes an empty cell."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return "'" + text
    return text
