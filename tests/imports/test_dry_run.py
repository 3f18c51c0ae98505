"""One dry-run mechanism for the three imports (core.imports.import_transaction): a dry run of
agreements, time entries and payments does what the real run does, then rolls it back. It
writes nothing (rows, history, import records) and reports the counts the real run then
reports, for a file that creates, updates and leaves rows unchanged."""

from __future__ import annotations

import pytest

from agreements.services import agreement_import
from core.models import ImportRecord
from receivables.models import Allocation, Payment
from receivables.services import payment_import
from tests.factories import AccountFactory
from tests.imports.data import agreement, agreements_csv, entries_csv, entry, snapshot
from tests.world import final_invoice
from timesheets.importing import time_entry_import

pytestmark = pytest.mark.django_db


def _everything() -> dict:
    state = snapshot()
    state["payments"] = list(Payment.objects.order_by("pk").values())
    state["allocations"] = list(Allocation.objects.order_by("pk").values())
    state["history"] += [Payment.history.count(), Allocation.history.count()]
    state["imports"] = ImportRecord.objects.count()
    return state


def _counts(result) -> tuple:
    assert result.ok, result.errors
    return (result.created, result.updated, result.unchanged, result.deleted)


def _dry_then_real(run) -> tuple:
    """The dry run's counts, after checking it wrote nothing; then the real run's."""
    before = _everything()
    dry = run(True)
    assert dry.dry_run and dry.import_id is None
    assert _everything() == before
    real = run(False)
    assert not real.dry_run and real.import_id is not None
    assert _everything() != before
    return _counts(dry), _counts(real)


def test_agreements_dry_run_writes_nothing_and_counts_as_the_real_run():
    second = {"Agreement ID": "AGR-2", "Project Code": "PRJ-2"}
    assert agreement_import(file=agreements_csv(agreement(), agreement(**second))).ok
    data = agreements_csv(
        agreement(**{"Hourly Rate": "175"}),  # updated
        agreement(**second),  # unchanged
        agreement(**{"Agreement ID": "AGR-3", "Project Code": "PRJ-3"}),  # created
    )
    dry, real = _dry_then_real(lambda d: agreement_import(file=data, dry_run=d))
    assert dry == real == (1, 1, 1, 0)


def test_time_entries_dry_run_writes_nothing_and_counts_as_the_real_run():
    assert time_entry_import(file=entries_csv(entry(), entry(**{"Entry ID": "1002"}))).ok
    data = entries_csv(
        entry(**{"Hours": "2"}),  # updated
        entry(**{"Entry ID": "1002"}),  # unchanged
        entry(**{"Entry ID": "1003", "Employee ID": "E9", "Employee Name": "New"}),  # created
    )
    dry, real = _dry_then_real(lambda d: time_entry_import(file=data, dry_run=d))
    assert dry == real == (1, 1, 1, 0)


def test_payments_dry_run_writes_nothing_and_counts_as_the_real_run():
    acme = AccountFactory(external_id="ACME")
    final_invoice(acme, "300.00")  # the new payment is allocated to it (an Allocation row)
    head = "Payment ID,Date,Account ID,Amount,Currency,Reference,Method\n"
    assert payment_import(file=(head + "P-1,2026-04-10,ACME,100.00,USD,first,SEPA\n").encode()).ok
    data = (
        head
        + "P-1,2026-04-10,ACME,100.00,USD,first,SEPA\n"  # unchanged
        + "P-2,2026-04-11,ACME,50.00,USD,second,SEPA\n"  # created
    ).encode()
    dry, real = _dry_then_real(lambda d: payment_import(file=data, dry_run=d))
    assert dry == real == (1, 0, 1, 0)
    assert Allocation.objects.filter(payment__external_id="P-2").exists()
