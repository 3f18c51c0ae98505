"""Spreadsheet-safe cells for every CSV and XLSX export (SPEC 4: no live formula)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, Any

from django.core.management.base import BaseCommand

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


def write_table(
    rows: Iterable[dict[str, Any]], columns: Sequence[str], fmt: str, stream: IO[str]
) -> int:
    """Rows as CSV (a header, then cells neutralized against formulas; None empty, booleans
    yes/no) or as a JSON list of objects with those keys (None null, booleans true/false).
    Streams: memory does not grow with the number of rows. Returns the row count."""
    n = 0
    if fmt == "json":
        stream.write("[")
        for row in rows:
            out = {c: row[c] for c in columns}
            stream.write(("," if n else "") + "\n  " + json.dumps(out, ensure_ascii=False))
            n += 1
        stream.write("\n]\n" if n else "]\n")
        return n
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
        n += 1
    return n


class ExportCommand(BaseCommand):
    """`<command> [--format csv|json] [--output FILE]` (SPEC 5): `rows()` with `columns`, written
    by `write_table` to FILE or to stdout. A subclass names its columns and its rows."""

    columns: Sequence[str] = ()

    def rows(self) -> Iterable[dict[str, Any]]:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=("csv", "json"), default="csv")
        parser.add_argument("--output", help="write to FILE instead of stdout")

    def handle(self, *args, **options):
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                write_table(self.rows(), self.columns, options["format"], out)
        else:
            self.stdout.ending = ""  # the writer ends its own lines
            write_table(self.rows(), self.columns, options["format"], self.stdout)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralize(value)


def plain_decimal(value: Decimal | None, places: int | None = None) -> str | None:
    """A Decimal as plain text: with ``places`` fixed ("150.00"), else without trailing zeros
    ("1.5", "19"); None stays None."""
    if value is None:
        return None
    if places is not None:
        return f"{value:.{places}f}"
    text = f"{value.normalize():f}"
    return text
