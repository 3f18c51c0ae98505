"""PostgreSQL advisory locks: the one registry of keys, and the one way to take them.

Every lock here is transaction-scoped (`pg_advisory_xact_lock`): released at commit or rollback,
so it must be taken inside `transaction.atomic()`. Keys are 64-bit; the fixed ones below are
spelled once here so no two jobs pick the same number by accident.

| key | who holds it | against whom |
|---|---|---|
| INVOICE_RUN | every invoice-run group transaction | other runs (same or other period) |
| RECONCILIATION_APPLY | reconciliation apply step (exclusive); flag release/write-off (shared) | each other |
| INVOICE_RUN_START | "run now" of an invoice run (dedupe, core/runs.py) | another "run now" |
| RECONCILIATION_START | "run now" of a reconciliation | another "run now" |
| UNBILLED_SNAPSHOT | a refresh of the KPI tile's stored unbilled value | another refresh (the later one computes after the earlier wrote) |
| `import_lock(kind)` | an import of that kind (agreements, time_entries, ...) | the same kind |

Import locks hash `billable.import.<kind>` with PostgreSQL's `hashtext` (32-bit); a clash with a
fixed key would only serialise two unrelated jobs, never break one.
"""

from __future__ import annotations

from django.db import connection

INVOICE_RUN = 0x42494C4C  # "BILL" in ASCII
RECONCILIATION_APPLY = 804_211_917
INVOICE_RUN_START = 0x42494C53  # "BILS"
RECONCILIATION_START = 804_211_918
UNBILLED_SNAPSHOT = 804_211_919
IMPORT_PREFIX = "billable.import."


def xact_lock(key: int, *, shared: bool = False) -> None:
    """Take advisory lock `key` (one of the constants above) until the transaction ends."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {fn}(%s)", [key])


def import_lock(kind: str) -> None:
    """Serialise imports of one kind until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [IMPORT_PREFIX + kind])
