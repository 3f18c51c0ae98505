"""The AR aging page's report, cached by the data it reads (issue 16).

The page shows `receivables.aging.aging_report(as_of)` unchanged; computing it reads every final
invoice, allocation and payment (0.2-0.3 s at firm scale), which an empty page costs 15 ms. So
the report is kept in the cache under (as_of, version), where the version is what the reader's
snapshot sees of `receivables_agingchange` (receivables/migrations/0006): every statement that
writes invoices, credit notes, payments, allocations or accounts appends a row there in its own
transaction. The version and, on a miss, the report are read in one REPEATABLE READ snapshot, so
a cached report is exactly the one its version's data give; a write makes a new version and the
next view computes the report again.
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import connection, transaction

from receivables.aging import AgingReport, aging_report

TIMEOUT_S = 3600


def _version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(id), max(id) FROM receivables_agingchange")
        count, low, high = cursor.fetchone()
    return f"{count}-{low}-{high}"


def cached_aging_report(*, as_of: dt.date) -> AgingReport:
    """`aging_report(as_of=as_of)`, from the cache while nothing it reads has changed."""
    if connection.in_atomic_block:  # a caller's transaction (or a test's): its snapshot already
        return _cached(as_of)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _cached(as_of)


def _cached(as_of: dt.date) -> AgingReport:
    key = f"receivables:aging:{as_of.isoformat()}:{_version()}"
    report: AgingReport | None = cache.get(key)
    if report is None:
        report = aging_report(as_of=as_of)
        cache.set(key, report, TIMEOUT_S)
    return report
