"""The one world builder of the tests (issue 13): every named dataset a test suite starts from,
imported as `from tests.world import ...`.

- `firm.py`: `small_firm()`, three billing groups for January 2026 with every SPEC 3 rule in it
  (T&M with a rate card, a Prepaid Hours child, a Fixed Fee child with milestones, a second PO, a
  EUR account, a Draft-stage agreement, and entries that must not be billed); the invoicing
  tests' exact expected results are written against it. `many_groups(groups, entries_per_group)`:
  `groups` accounts of one T&M agreement each, plus one Prepaid Hours and one Fixed Fee
  agreement, for the reliability tests (restarts, concurrency).
- `everything.py`: `make_world()`, one of everything the API and the portal show (a draft, an
  approved and a disputed invoice, a credit note, a payment and allocation, runs, a reminder, a
  dispute with an attachment, a portal contact and notice), for the permission matrix and the
  schema tests.
- `portal.py`: `make_customer(key, seq)`, a portal customer (contact, disputed invoice with
  billed entries, credit note, dispute with a staff-only attachment, payment notice); the portal
  tests' `alpha` and `beta`.
- `einvoice.py`: `build(approver)`, approved invoices and credit notes of every e-invoice shape
  (issue 14), and the buyers and drafts they are made of (`eu_buyer`, `us_buyer`, `draft`,
  `time_line`, `fixed_line`, `two_rate_draft`).
- `documents.py`: the pieces the worlds are made of, also used alone: `final_invoice(account,
  total)` and `invoice_with_lines(account, lines)` (numbered final invoices without the invoice
  generator), `bill_entries`, `credit_note`, `open_dispute`, `attach`, `portal_contact`,
  `payment_notice`, `portal_client(contact)` (a client with a portal session) and
  `approve(invoice=, user=)` (approval as the tests call it).

The suites' helpers (`tests/invoicing/helpers.py`, `tests/reliability/billing_data.py`) and
fixtures (`tests/api/conftest.py`, `tests/portal/conftest.py`) import their worlds from here and
keep only their assertions and fixtures.
"""

from tests.world.documents import (
    approve,
    attach,
    bill_entries,
    credit_note,
    final_invoice,
    invoice_with_lines,
    next_invoice_seq,
    open_dispute,
    payment_notice,
    portal_client,
    portal_contact,
)
from tests.world.everything import World, make_world
from tests.world.firm import FEB, JAN, PERIOD, D, many_groups, minutes, small_firm
from tests.world.portal import Customer, make_customer

__all__ = [
    "FEB",
    "JAN",
    "PERIOD",
    "Customer",
    "D",
    "World",
    "approve",
    "attach",
    "bill_entries",
    "credit_note",
    "final_invoice",
    "invoice_with_lines",
    "make_customer",
    "make_world",
    "many_groups",
    "minutes",
    "next_invoice_seq",
    "open_dispute",
    "payment_notice",
    "portal_client",
    "portal_contact",
    "small_firm",
]
