"""The payment import's sources (SPEC 1.4) as the shared reading layer sees them.

``SOURCES`` names every payment source for the command and API choices (``--source``): the
billable CSV and the bank statement formats. Only ``billable`` is a table the reading layer reads
(``core.reading``); a statement is parsed by ``receivables.statements`` and recognised there from
its first bytes, so those sources carry no header signature and are never detected by header.
"""

from __future__ import annotations

from core.reading import Schema, Source, SourceSet
from receivables.importing import COLUMNS, REQUIRED
from receivables.statements import LABELS, PARSERS

SCHEMA = Schema(
    kind="payments",
    columns=COLUMNS,
    required=frozenset(REQUIRED),
    kinds={"Payment ID": "id", "Date": "date", "Amount": "money"},
)
BILLABLE = Source(
    "billable", LABELS["billable"], "payments", signature=frozenset(c.lower() for c in REQUIRED)
)
SOURCES = SourceSet(
    SCHEMA, BILLABLE, tuple(Source(name, LABELS[name], "payments") for name in PARSERS)
)
