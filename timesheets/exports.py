"""`export_flags` (SPEC 5): flags as CSV or JSON, shared by the command and the dashboard download."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from core.exports import neutralize
from timesheets.selectors import flags_for_export

COLUMNS = ("code", "status", "subject", "agreement_id", "project_code", "hours", "detail")


def plain_hours(value: Decimal | None) -> str:
    """Raw hours as a plain decimal: at least 2 places, no trailing zeros past them ('1.50',
    '12.0167'); empty when the flag has no hours."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def flag_rows(status: str | None = None) -> Iterator[dict[str, str]]:
    for row in flags_for_export(status=status):
        yield {
            "code": row["code"],
            "status": row["status"],
            "subject": row["subject"],
            "agreement_id": row["agreement__external_id"] or "",
            "project_code": row["project_code"],
            "hours": plain_hours(row["hours"]),
            "detail": row["detail"],
        }


def write_csv(rows: Iterable[dict[str, str]], stream: IO[str]) -> int:
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([neutralize(row[c]) for c in COLUMNS])
        n += 1
    return n


def write_json(rows: Iterable[dict[str, str]], stream: IO[str]) -> int:
    """A JSON list of objects with the CSV's keys; hours a decimal string or null, agreement_id
    null for flags without an agreement. Not neutralized: JSON is not opened by spreadsheets."""
    stream.write("[")
    n = 0
    for row in rows:
        out: dict[str, Any] = dict(row)
        out["hours"] = row["hours"] or None
        out["agreement_id"] = row["agreement_id"] or None
        stream.write(("," if n else "") + "\n  " + json.dumps(out, ensure_ascii=False))
        n += 1
    stream.write("\n]\n" if n else "]\n")
    return n
