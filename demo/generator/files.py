"""Writing the demo firm's files."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from demo.generator.columns import AGREEMENT_COLUMNS, ENTRY_COLUMNS
from demo.generator.plan import Firm, plan_firm
from demo.generator.rows import agreement_rows, time_entry_rows


def write_csv(path: Path, header: list[str], rows: Iterator[list[str]]) -> int:
    """Stream rows to `path` (RFC 4180, CRLF as csv writes it); returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


@dataclass(frozen=True)
class DemoFiles:
    firm: Firm
    agreements: Path
    entries: Path
    agreement_count: int
    entry_count: int


def write_demo_files(
    out_dir: Path, *, scale: str = "small", seed: int = 2026, end: dt.date
) -> DemoFiles:
    """Write agreements.csv and time_entries.csv for a firm whose time ends on `end`."""
    firm = plan_firm(scale, seed=seed, end=end)
    entries = out_dir / "time_entries.csv"
    agreements = out_dir / "agreements.csv"
    n_entries = write_csv(entries, ENTRY_COLUMNS, time_entry_rows(firm))
    n_agreements = write_csv(agreements, AGREEMENT_COLUMNS, agreement_rows(firm))
    return DemoFiles(firm, agreements, entries, n_agreements, n_entries)
