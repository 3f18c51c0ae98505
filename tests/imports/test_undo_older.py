"""Undo of an older import (SPEC 1.4 import history): any time-entry or payment import whose rows
were neither billed/allocated nor rewritten by a later import can be undone, not only the latest;
otherwise the undo is refused with the reason and nothing changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from core.imports import UndoRefused
from core.models import ImportRecord
from receivables.import_history import payment_import_undo
from receivables.models import Payment
from receivables.services import payment_assign, payment_import
from tests.factories import AccountFactory
from tests.imports.data import entries_csv, entry, snapshot
from timesheets.import_history import time_entry_import_undo
from timesheets.importing import time_entry_import
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
CHASE = Path(__file__).parent.parent / "receivables" / "fixtures" / "chase.csv"


def ids() -> list[str]:
    return sorted(TimeEntry.objects.values_list("external_id", flat=True))


def test_an_older_time_entry_import_is_undone_unless_a_later_one_rewrote_it(
    billing_admin, client_for
):
    def imported(name, *rows):
        result = time_entry_import(file=entries_csv(*rows), user=billing_admin, file_name=name)
        assert result.ok, result.errors
        return result.import_id

    first = imported("a.csv", entry(), entry(**{"Entry ID": "1002"}))
    second = imported("b.csv", entry(**{"Entry ID": "2001"}))
    page = client_for(billing_admin).get(reverse("import_history")).content.decode()
    assert (
        f'action="/imports/{first}/undo/"' in page and f'action="/imports/{second}/undo/"' in page
    )
    assert time_entry_import_undo(record_id=first, user=billing_admin) == {
        "deleted": 2,
        "restored": 0,
    }
    assert ids() == ["2001"]
    assert ImportRecord.objects.get(pk=first).status == "undone"
    assert ImportRecord.objects.get(pk=second).status == "done"

    third = imported("c.csv", entry(**{"Entry ID": "3001"}), entry(**{"Entry ID": "3002"}))
    fourth = imported("d.csv", entry(**{"Entry ID": "3002", "Hours": "3"}))
    before = snapshot()
    with pytest.raises(UndoRefused) as exc:
        time_entry_import_undo(record_id=third, user=billing_admin)
    assert str(exc.value) == (
        f"1 entry of this import was changed or removed since by import {fourth} (d.csv); undo "
        "that one first."
    )
    assert snapshot() == before
    assert ImportRecord.objects.get(pk=third).status == "done"
    # Once the later import is undone, the entry is as the older one left it: it can go too.
    time_entry_import_undo(record_id=fourth, user=billing_admin)
    assert TimeEntry.objects.get(external_id="3002").duration_ms == 5_400_000
    time_entry_import_undo(record_id=third, user=billing_admin)
    assert ids() == ["2001"]


def test_an_older_payment_import_is_undone_unless_a_payment_was_assigned_since(finance):
    acme = AccountFactory(external_id="ACME")
    statement = CHASE.read_bytes()
    first = payment_import(file=statement, user=finance)
    assert first.created == 3
    second = payment_import(
        file=b"Payment ID,Date,Account ID,Amount\nB-1,2026-04-12,ACME,5.00\n", user=finance
    )
    assert payment_import_undo(record_id=first.import_id, user=finance) == {
        "deleted": 3,
        "restored": 0,
    }
    assert list(Payment.objects.values_list("external_id", flat=True)) == ["B-1"]

    third = payment_import(file=statement, user=finance)
    payment_import(file=b"Payment ID,Date,Account ID,Amount\nB-2,2026-04-13,ACME,6.00\n",
                   user=finance)  # fmt: skip
    unassigned = Payment.objects.filter(import_record_id=third.import_id, account__isnull=True)
    assigned = unassigned.order_by("external_id")[0]
    payment_assign(payment=assigned, account=acme, user=finance)
    before = sorted(Payment.objects.values_list("external_id", "account_id"))
    with pytest.raises(UndoRefused) as exc:
        payment_import_undo(record_id=third.import_id, user=finance)
    assert str(exc.value) == (
        f"1 payment of this import was changed since ({assigned.external_id}: assigned to an "
        "account); it cannot be undone."
    )
    assert sorted(Payment.objects.values_list("external_id", "account_id")) == before
    assert ImportRecord.objects.get(pk=third.import_id).status == "done"
    assert ImportRecord.objects.get(pk=second.import_id).status == "done"
