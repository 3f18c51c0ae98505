"""The bench's steps, in the order they run (each leaves the data the next one needs)."""

from bench.steps.aging import case_aging
from bench.steps.approval import case_approval
from bench.steps.import_sources import case_import_sources
from bench.steps.imports import case_import
from bench.steps.invoice_run import case_invoice_run
from bench.steps.pages import case_pages
from bench.steps.partitioning import case_partitioning
from bench.steps.pdf import case_pdf
from bench.steps.reconciliation import case_reconciliation

CASES = [
    ("import", case_import),
    ("import_sources", case_import_sources),
    ("reconciliation", case_reconciliation),
    # Before the invoice run: needs only the entries and flags, and leaves the database as it was.
    ("partitioning", case_partitioning),
    ("invoice_run", case_invoice_run),
    ("pdf", case_pdf),
    ("aging", case_aging),
    ("pages", case_pages),
    ("approval", case_approval),  # last: it approves the drafts the review page shows
]
