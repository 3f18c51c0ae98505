"""The importers' own headers (SPEC 1), so the demo files are read exactly as a CRM export is."""

from __future__ import annotations

from agreements.importing.rows import COLUMNS as AGREEMENT_IMPORT_COLUMNS
from timesheets.importing.rows import COLUMNS as ENTRY_IMPORT_COLUMNS

# The agreement file has the buyer's columns (legal name is Account Name; SPEC 1.1), so demo
# invoices are valid e-invoices; it stops before the per-agreement VAT category columns.
AGREEMENT_COLUMNS = list(
    AGREEMENT_IMPORT_COLUMNS[: AGREEMENT_IMPORT_COLUMNS.index("Buyer Reference") + 1]
)
ENTRY_COLUMNS = list(ENTRY_IMPORT_COLUMNS)
PAYMENT_COLUMNS = ["Payment ID", "Date", "Account ID", "Amount", "Currency", "Reference", "Method"]
