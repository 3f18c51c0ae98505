"""Read-back commands (SPEC 5: export_agreements, export_time_entries) and undo of an import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from agreements.services import agreement_import
from core.imports import UndoRefused
from core.models import ImportRecord
from invoicing.models import EntryBilling, Invoice
from tests.factories import AgreementFactory, InvoiceFactory, InvoiceLineFactory
from tests.imports.data import agreement, agreements_csv, entries_csv, entry, snapshot
from timesheets.import_history import time_entry_import_undo
from timesheets.importing import time_entry_import
from timesheets.models import TimeEntry

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_export_agreements_reads_back_unchanged(tmp_path):
    data = agreements_csv(
        agreement(**{"Role Rates": "Engineer=150; Architect=200.5", "Hourly Rate": ""}),
        agreement(**{"Agreement ID": "AGR-2", "Project Code": "PRJ-2", "Agreement Type": "Fixed Fee",
                     "Amount": "12000", "Hourly Rate": "", "Milestones": "Kickoff:40:2026-02-01; Done:60",
                     "End Date": "2026-12-31", "Billing Address": "1 Main St; Floor 2"}),
    )  # fmt: skip
    assert agreement_import(file=data).created == 2
    text = run("export_agreements")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["Agreement ID"], r["Agreement Type"], r["Amount"], r["Role Rates"], r["Milestones"])
            for r in rows] == [
        ("AGR-1", "Time and Materials", "", "Architect=200.50; Engineer=150.00", ""),
        ("AGR-2", "Fixed Fee", "12000.00", "", "Kickoff:40:2026-02-01; Done:60"),
    ]  # fmt: skip
    assert (
        rows[1]["End Date"] == "2026-12-31" and rows[1]["Billing Address"] == "1 Main St; Floor 2"
    )
    before = snapshot()
    again = agreement_import(file=text.encode())
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2), again.errors
    assert snapshot() == before
    data = json.loads(run("export_agreements", "--format", "json"))
    assert data[0]["Agreement ID"] == "AGR-1" and data[0]["Amount"] is None
    assert data[0]["Hourly Rate"] is None and data[0]["Currency"] == "USD"


def test_export_time_entries_with_source_and_invoice_number():
    time_entry_import(file=entries_csv(entry(), entry(**{"Entry ID": "9", "Hours": "0:45",
                                                        "Billable": "no"})))  # fmt: skip
    time_entry_import(file=(FIXTURES / "toggl.csv").read_bytes())
    billed = TimeEntry.objects.get(external_id="1001")
    invoice = InvoiceFactory()
    line = InvoiceLineFactory(invoice=invoice)
    EntryBilling.objects.create(
        entry=billed, agreement=AgreementFactory(), invoice=invoice, line=line,
        period=dt.date(2026, 1, 1), rounded_minutes=90, billed_minutes=90,
    )  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(status="approved", number="INV-2026-00001")
    rows = list(csv.DictReader(io.StringIO(run("export_time_entries"))))
    assert [(r["Entry ID"][:6], r["Date"], r["Hours"], r["Billable"], r["source"],
             r["invoice_number"]) for r in rows] == [
        ("9", "2026-01-15", "0.75", "no", "billable", ""),
        ("1001", "2026-01-15", "1.5", "yes", "billable", "INV-2026-00001"),
        ("toggl:", "2026-11-02", "1.5", "yes", "toggl", ""),
        ("toggl:", "2026-11-02", "1.5", "yes", "toggl", ""),
        ("toggl:", "2026-11-03", "0.25", "no", "toggl", ""),
    ]  # fmt: skip
    data = json.loads(run("export_time_entries", "--format", "json"))
    assert data[1] == {
        "Entry ID": "1001", "Date": "2026-01-15", "Employee ID": "E1", "Employee Name": "Ann Smith",
        "Role": "Engineer", "Project Code": "PRJ-1", "Task": "Build", "Hours": "1.5",
        "Billable": True, "Approved": True, "Notes": None, "source": "billable",
        "invoice_number": "INV-2026-00001",
    }  # fmt: skip


def test_undo_removes_created_entries_and_restores_changed_ones(billing_admin):
    first = time_entry_import(file=entries_csv(entry()), user=billing_admin)
    before = list(TimeEntry.objects.values("external_id", "duration_ms", "notes"))
    second = time_entry_import(
        file=entries_csv(entry(**{"Hours": "3", "Notes": "more"}), entry(**{"Entry ID": "1002"})),
        user=billing_admin,
    )
    assert (second.created, second.updated) == (1, 1)
    with pytest.raises(UndoRefused) as exc:
        time_entry_import_undo(record_id=first.import_id, user=billing_admin)
    assert str(exc.value) == (
        f"1 entry of this import was changed or removed since by import {second.import_id}; undo "
        "that one first."
    )
    assert time_entry_import_undo(record_id=second.import_id, user=billing_admin) == {
        "deleted": 1,
        "restored": 1,
    }
    assert list(TimeEntry.objects.values("external_id", "duration_ms", "notes")) == before
    record = ImportRecord.objects.get(pk=second.import_id)
    assert (record.status, record.undone_by) == ("undone", billing_admin)
    assert TimeEntry.objects.get().import_record_id == first.import_id
    with pytest.raises(UndoRefused, match="already undone"):
        time_entry_import_undo(record_id=second.import_id, user=billing_admin)
    # Now the first is the latest import in force.
    time_entry_import_undo(record_id=first.import_id, user=billing_admin)
    assert not TimeEntry.objects.exists()


def test_undo_refused_once_an_entry_is_billed(billing_admin):
    result = time_entry_import(file=entries_csv(entry()), user=billing_admin)
    invoice = InvoiceFactory()
    EntryBilling.objects.create(
        entry=TimeEntry.objects.get(), agreement=AgreementFactory(), invoice=invoice,
        line=InvoiceLineFactory(invoice=invoice), period=dt.date(2026, 1, 1),
        rounded_minutes=90, billed_minutes=90,
    )  # fmt: skip
    before = snapshot()
    with pytest.raises(UndoRefused) as exc:
        time_entry_import_undo(record_id=result.import_id, user=billing_admin)
    assert str(exc.value) == "1 entry of this import is on an invoice since; it cannot be undone."
    assert snapshot() == before
    assert ImportRecord.objects.get().status == "done"


def test_dry_run_records_nothing():
    time_entry_import(file=entries_csv(entry()), dry_run=True)
    agreement_import(file=agreements_csv(agreement()), dry_run=True)
    assert not ImportRecord.objects.exists()
