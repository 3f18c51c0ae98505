"""The review screen's reads (invoicing/selectors/review.py): which flags warn on which draft, and
the statistics the drafts table's plan relies on (invoicing migration 0014)."""

from __future__ import annotations

import pytest
from django.db import connection

from invoicing.selectors import flagged_entries
from tests.factories import (
    AgreementFactory,
    FlagFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    TimeEntryFactory,
)
from tests.world import bill_entries

pytestmark = pytest.mark.django_db


def _bill(line, external_id: str):
    entry = TimeEntryFactory(external_id=external_id)
    bill_entries(line, [entry], minutes=60)
    return entry


def test_flagged_entries_are_the_unresolved_flags_on_each_invoices_billed_entries(
    django_assert_num_queries,
):
    agreement = AgreementFactory()
    a, b, other = (
        InvoiceLineFactory(invoice=InvoiceFactory(), agreement=agreement) for _ in range(3)
    )
    open_a = FlagFactory(code="OVER_CAP", entry=_bill(a, "A1"), status="released", reason="OK")
    second_a = FlagFactory(code="NO_AGREEMENT", entry=_bill(a, "A2"))
    FlagFactory(code="OVER_CAP", entry=_bill(a, "A3"), status="resolved")  # no warning
    _bill(a, "A4")  # billed, no flag
    open_b = FlagFactory(code="OVER_CAP", entry=_bill(b, "B1"))
    FlagFactory(code="OVER_CAP", entry=_bill(other, "O1"))  # an invoice not asked about
    FlagFactory(code="OVER_CAP", entry=TimeEntryFactory(external_id="U1"))  # not billed

    found = flagged_entries([a.invoice_id, b.invoice_id])

    assert {k: [f.pk for f in v] for k, v in found.items()} == {
        a.invoice_id: [second_a.pk, open_a.pk],  # by code, then subject
        b.invoice_id: [open_b.pk],
    }
    assert [f.pk for f in flagged_entries([b.invoice_id])[b.invoice_id]] == [open_b.pk]
    with django_assert_num_queries(0):  # a page without drafts asks nothing
        assert flagged_entries([]) == {}


def test_invoices_have_joint_statistics_on_status_and_period():
    """The drafts table's walk in customer order needs the planner to know how many drafts a
    period has (drafts are few overall, a month's many): an MCV list on (status, period)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT s.stxkind, array_agg(a.attname ORDER BY a.attname)
               FROM pg_statistic_ext s
               JOIN pg_attribute a ON a.attrelid = s.stxrelid AND a.attnum = ANY(s.stxkeys)
               WHERE s.stxname = 'invoice_status_period_mcv'
                 AND s.stxrelid = 'invoicing_invoice'::regclass
               GROUP BY s.stxkind"""
        )
        assert cursor.fetchall() == [(["m"], ["period", "status"])]
