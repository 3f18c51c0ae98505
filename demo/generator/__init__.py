"""A deterministic demo firm: agreements, time entries and payments as the CSV files of SPEC 1.

Used by `seed_demo` (through the same import services as real data) and by the benchmarks in
`bench/`. Everything comes from `random.Random(seed)` and the `end` date, so the same seed, scale
and end date give byte-identical files. Files are streamed row by row: the `firm` and `xl` scales
never hold a whole file in memory (only the plan: employees, accounts, agreements).

The firm has the exceptions SPEC section 2 is about, at realistic rates: hours on project codes the
CRM does not know, on Draft or Cancelled agreements, outside an agreement's dates, with no rate,
past a T&M cap, duplicated, unapproved and old, and days of more than 12 hours.

Caps, hours sold and prepaid blocks are set from the hours actually generated (the entries are
written first), so some agreements run over their cap and some end undelivered, as in real life.
Money is integer cents or Decimal here; no float.

The package: `names` (vocabulary), `plan` (scales, the firm's plan, dates), `rows` (the CSV rows),
`buyers` (the customers' e-invoice columns), `columns` (headers), `files` (writing them).
"""

from __future__ import annotations

from demo.generator.buyers import agreement_name, buyer_columns
from demo.generator.columns import AGREEMENT_COLUMNS, ENTRY_COLUMNS, PAYMENT_COLUMNS
from demo.generator.files import DemoFiles, write_csv, write_demo_files
from demo.generator.names import INTERNAL_CODES, TERMS
from demo.generator.plan import (
    SCALES,
    Account,
    AgreementPlan,
    Employee,
    Firm,
    Scale,
    add_months,
    month_end,
    plan_firm,
)
from demo.generator.rows import OpenInvoice, agreement_rows, payment_rows, time_entry_rows

__all__ = [
    "AGREEMENT_COLUMNS",
    "ENTRY_COLUMNS",
    "INTERNAL_CODES",
    "PAYMENT_COLUMNS",
    "SCALES",
    "TERMS",
    "Account",
    "AgreementPlan",
    "DemoFiles",
    "Employee",
    "Firm",
    "OpenInvoice",
    "Scale",
    "add_months",
    "agreement_name",
    "agreement_rows",
    "buyer_columns",
    "month_end",
    "payment_rows",
    "plan_firm",
    "time_entry_rows",
    "write_csv",
    "write_demo_files",
]
