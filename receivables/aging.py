"""AR aging as of a date (SPEC 4): one set-based SQL query, plus its CSV / XLSX / JSON forms.

open(D) of each final invoice with invoice date <= D = total - allocations dated <= D and not
reversed as of D - credit notes dated <= D. Non-zero open amounts go to a bucket by D - due date:
Current (<= 0), 1-30, 31-60, 61-90, 91+. Unapplied cash as of D per (account, currency) = payments
dated <= D - their allocations dated <= D (not reversed as of D). Total = buckets - Unapplied.

Why raw SQL: this is the hot report (290,000 invoices in under 2 s). Nothing is computed per
invoice: the sum of open(D) over a bucket equals the bucket's totals minus the allocations and
credit notes counted on D, so every amount is summed straight into (account, currency, bucket)
groups, pivoted, and only then joined to the accounts (3x faster than summing allocations per
invoice first). A row appears when one of its amounts is non-zero; open amounts are never
negative (services cap allocations and credit notes at the open amount), so this is the same as
"has a non-zero open invoice or unapplied cash". The bucket boundaries are passed as dates
(due_date >= D, due_date >= D-30, ...). Nothing here depends on later payments: every row of every table is filtered by its own
date <= D.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from agreements.models import Account
from core.exports import neutralize
from core.money import ZERO, round_money
from invoicing.models import CreditNote, Invoice
from receivables.models import Allocation, Payment
from receivables.settlement import credit_counts_sql, live_allocation_sql

BUCKETS = ("Current", "1-30", "31-60", "61-90", "91+")
HEADER = ["Account ID", "Account Name", "Currency", *BUCKETS, "Unapplied", "Total"]
JSON_KEYS = ["current", "1-30", "31-60", "61-90", "91+"]


def bucket_of(days_past_due: int) -> str:
    """The bucket of one invoice: the Python form of the CASE in `_sql()` (same boundaries)."""
    for limit, name in ((0, "Current"), (30, "1-30"), (60, "31-60"), (90, "61-90")):
        if days_past_due <= limit:
            return name
    return "91+"


@dataclass
class AgingRow:
    account_id: int
    account_external_id: str
    account_name: str
    currency: str
    buckets: list[Decimal]
    unapplied: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO) - self.unapplied

    def amounts(self) -> list[Decimal]:
        return [*self.buckets, self.unapplied, self.total]


@dataclass
class AgingTotal:
    currency: str
    buckets: list[Decimal]
    unapplied: Decimal

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO) - self.unapplied

    def amounts(self) -> list[Decimal]:
        return [*self.buckets, self.unapplied, self.total]


@dataclass
class AgingReport:
    as_of: dt.date
    rows: list[AgingRow]
    totals: list[AgingTotal] = field(default_factory=list)

    # --- exports ------------------------------------------------------------------------------

    def table(self) -> list[list[str | Decimal]]:
        """Header, one row per (account, currency), then one TOTAL row per currency. Text cells are
        neutralized; amounts stay Decimal."""
        out: list[list[str | Decimal]] = [list(HEADER)]
        for row in self.rows:
            out.append(
                [
                    neutralize(row.account_external_id),
                    neutralize(row.account_name),
                    neutralize(row.currency),
                    *row.amounts(),
                ]
            )
        for total in self.totals:
            out.append(["TOTAL", "", neutralize(total.currency), *total.amounts()])
        return out

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for cells in self.table():
            writer.writerow([f"{c:.2f}" if isinstance(c, Decimal) else c for c in cells])
        return buffer.getvalue()

    def to_xlsx(self) -> bytes:
        from openpyxl import Workbook
        from openpyxl.styles import Font

        workbook = Workbook()
        sheet = workbook.active
        sheet.title = f"AR aging {self.as_of.isoformat()}"
        for r, cells in enumerate(self.table(), start=1):
            is_label = r == 1 or cells[0] == "TOTAL"
            for c, value in enumerate(cells, start=1):
                cell = sheet.cell(row=r, column=c)
                if isinstance(value, Decimal):
                    cell.value = value
                    cell.number_format = "0.00"
                else:
                    cell.value = value
                    cell.data_type = "s"  # never a formula, whatever the text
                if is_label:
                    cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for column, width in zip(
            "ABCDEFGHIJ", (14, 36, 9, 13, 13, 13, 13, 13, 13, 14), strict=True
        ):
            sheet.column_dimensions[column].width = width
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()

    def as_dict(self) -> dict[str, Any]:
        def amounts(item: AgingRow | AgingTotal) -> dict[str, str]:
            values = item.amounts()
            keys = [*JSON_KEYS, "unapplied", "total"]
            return {k: f"{v:.2f}" for k, v in zip(keys, values, strict=True)}

        return {
            "as_of": self.as_of.isoformat(),
            "rows": [
                {
                    "account_id": r.account_external_id,
                    "account_name": r.account_name,
                    "currency": r.currency,
                    **amounts(r),
                }
                for r in self.rows
            ],
            "totals": [{"currency": t.currency, **amounts(t)} for t in self.totals],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


def _dec(value: Any) -> Decimal:
    """A SUM() (Decimal, or None over no rows) as cents."""
    if value is None:
        return ZERO
    return round_money(value)


def _sql() -> str:
    invoice = Invoice._meta.db_table
    credit = CreditNote._meta.db_table
    allocation = Allocation._meta.db_table
    payment = Payment._meta.db_table
    account = Account._meta.db_table
    statuses = ", ".join(f"'{s}'" for s in sorted(Invoice.FINAL_STATUSES))
    bucket = """CASE WHEN {p}due_date >= %(d)s THEN 0
                WHEN {p}due_date >= %(d30)s THEN 1
                WHEN {p}due_date >= %(d60)s THEN 2
                WHEN {p}due_date >= %(d90)s THEN 3
                ELSE 4 END"""
    final = f"status IN ({statuses}) AND invoice_date <= %(d)s"
    # What counts as of D is the settlement rule's (receivables/settlement.py), in its SQL form.
    live, live_al, credited = live_allocation_sql(), live_allocation_sql("al."), credit_counts_sql()
    return f"""
WITH grouped AS (
    -- Buckets 0-4 by days past due; 5 is unapplied cash. Every amount is summed per
    -- (account, currency, bucket) without a per-invoice step: the sum of open(D) over a bucket is
    -- the sum of its totals - the allocations and credit notes counted on D.
    SELECT account_id, currency, {bucket.format(p="")} AS bucket, SUM(total) AS amount
    FROM {invoice} WHERE {final}
    GROUP BY account_id, currency, 3
    UNION ALL
    SELECT i.account_id, i.currency, {bucket.format(p="i.")}, -SUM(x.amount)
    FROM (SELECT invoice_id, amount FROM {allocation} WHERE {live}
          UNION ALL
          SELECT invoice_id, amount FROM {credit} WHERE {credited}) x
    JOIN {invoice} i ON i.id = x.invoice_id
    WHERE i.{final.replace("AND invoice_date", "AND i.invoice_date")}
    GROUP BY i.account_id, i.currency, 3
    UNION ALL
    -- Unapplied cash: + payments dated <= D (an unassigned payment counts for no account) ...
    SELECT account_id, currency, 5, SUM(amount)
    FROM {payment} WHERE date <= %(d)s AND account_id IS NOT NULL
    GROUP BY account_id, currency
    UNION ALL
    -- ... - their allocations dated <= D and not reversed as of D.
    SELECT p.account_id, p.currency, 5, -SUM(al.amount)
    FROM {allocation} al JOIN {payment} p ON p.id = al.payment_id
    WHERE {live_al}
    GROUP BY p.account_id, p.currency
), per_row AS (
    SELECT account_id, currency,
           SUM(CASE WHEN bucket = 0 THEN amount ELSE 0 END) AS b0,
           SUM(CASE WHEN bucket = 1 THEN amount ELSE 0 END) AS b1,
           SUM(CASE WHEN bucket = 2 THEN amount ELSE 0 END) AS b2,
           SUM(CASE WHEN bucket = 3 THEN amount ELSE 0 END) AS b3,
           SUM(CASE WHEN bucket = 4 THEN amount ELSE 0 END) AS b4,
           SUM(CASE WHEN bucket = 5 THEN amount ELSE 0 END) AS unapplied
    FROM grouped GROUP BY account_id, currency
)
SELECT acc.id, acc.external_id, acc.name, r.currency,
       r.b0, r.b1, r.b2, r.b3, r.b4, r.unapplied
FROM per_row r JOIN {account} acc ON acc.id = r.account_id
WHERE r.b0 <> 0 OR r.b1 <> 0 OR r.b2 <> 0 OR r.b3 <> 0 OR r.b4 <> 0 OR r.unapplied <> 0
ORDER BY acc.name, acc.external_id, r.currency
"""


def aging_report(*, as_of: dt.date) -> AgingReport:
    """The AR aging as of `as_of`: rows sorted by Account Name then Account ID (then currency),
    and one TOTAL per currency, sorted by currency."""
    params = {
        "d": as_of,
        # Days past due = D - due_date; 1-30 means D-30 <= due_date < D, and so on.
        "d30": as_of - dt.timedelta(days=30),
        "d60": as_of - dt.timedelta(days=60),
        "d90": as_of - dt.timedelta(days=90),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # One report, a few hash aggregates over every allocation: give them memory so they do
        # not spill to disk, and skip JIT compilation (it costs more than it saves here).
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_sql(), params)
        raw = cursor.fetchall()
    rows = [
        AgingRow(
            account_id=r[0],
            account_external_id=r[1],
            account_name=r[2],
            currency=r[3],
            buckets=[_dec(v) for v in r[4:9]],
            unapplied=_dec(r[9]),
        )
        for r in raw
    ]
    totals: dict[str, AgingTotal] = {}
    for row in rows:
        total = totals.setdefault(row.currency, AgingTotal(row.currency, [ZERO] * 5, ZERO))
        total.buckets = [a + b for a, b in zip(total.buckets, row.buckets, strict=True)]
        total.unapplied += row.unapplied
    return AgingReport(as_of=as_of, rows=rows, totals=[totals[c] for c in sorted(totals)])
