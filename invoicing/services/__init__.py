"""Writes for invoicing (SPEC 3), one module per concept:

- `runs`: invoice runs (flags first, one snapshot, one transaction per batch of groups);
- `drafts`: writing a batch of groups' drafts (invoices, lines, claims), set-based;
- `review`: reject a draft, adjust a line, add a manual line, edit notes and terms;
- `approval`: approve a draft (version, four eyes, number, entries locked), and store its
  final PDF after commit;
- `sending`: e-mail an approved invoice (after commit);
- `credit_notes`: credit an approved invoice.

Every state change is one transaction that locks the invoice row first (`select_for_update`),
checks the transition, writes, and records the user in history. Errors a user can act on are
`BillingError` with a readable message. Callers import from `invoicing.services`; to replace a
helper in a test, patch it in the module that uses it (e.g. `invoicing.services.runs`).
"""

from invoicing.services.approval import invoice_approve, invoice_pdf_store
from invoicing.services.credit_notes import credit_note_create
from invoicing.services.drafts import CLAIM_FIELDS, GroupOutcome, draft_write, drafts_write
from invoicing.services.review import (
    invoice_line_add,
    invoice_line_adjust,
    invoice_notes_set,
    invoice_reject,
)
from invoicing.services.runs import (
    RUN_LOCK_KEY,
    invoice_run_generate,
    invoice_run_start,
    refuse_future_period,
)
from invoicing.services.sending import credit_note_send, invoice_send

__all__ = [
    "CLAIM_FIELDS",
    "RUN_LOCK_KEY",
    "GroupOutcome",
    "credit_note_create",
    "credit_note_send",
    "draft_write",
    "drafts_write",
    "invoice_approve",
    "invoice_line_add",
    "invoice_line_adjust",
    "invoice_notes_set",
    "invoice_pdf_store",
    "invoice_reject",
    "invoice_run_generate",
    "invoice_run_start",
    "invoice_send",
    "refuse_future_period",
]
