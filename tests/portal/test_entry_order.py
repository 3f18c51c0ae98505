"""The portal lists the entries behind an invoice line in SPEC 5's (Date, Entry ID) order
(timesheets.ordering), as the invoice run priced them."""

from __future__ import annotations

import datetime as dt

import pytest

from invoicing.models import EntryBilling
from portal.selectors import invoice_lines
from tests.factories import (
    AgreementFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    TimeEntryFactory,
)

pytestmark = pytest.mark.django_db

JAN = dt.date(2026, 1, 1)


def test_entries_behind_a_line_come_in_spec_5_order():
    agreement = AgreementFactory()
    invoice = InvoiceFactory()
    line = InvoiceLineFactory(invoice=invoice)
    for external_id, day in [("b1", 0), ("1a", 0), ("B2", 0), ("10", 0), ("9", 0), ("2", 1)]:
        entry = TimeEntryFactory(external_id=external_id, date=JAN + dt.timedelta(days=day))
        EntryBilling.objects.create(
            entry=entry, agreement=agreement, invoice=invoice, line=line, period=JAN,
            rounded_minutes=60, billed_minutes=60,
        )  # fmt: skip
    [shown] = invoice_lines(invoice, with_entries=True)
    ids = [b.entry.external_id for b in shown.entry_billings.all()]
    assert ids == ["9", "10", "1a", "B2", "b1", "2"]
