"""Invoice runs on PostgreSQL: exact invoices, idempotent re-runs, interrupted runs, no double
billing (SPEC 3)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from invoicing import selectors, services
from invoicing.models import EntryBilling, Invoice, InvoiceRun, MilestoneBilling
from invoicing.services import runs
from tests.factories import TimeEntryFactory, UserFactory
from tests.invoicing.helpers import FEB, JAN, build_firm, line_rows, minutes, snapshot

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fixed_flags(monkeypatch):
    """These tests set flags by hand; the run's flag refresh is exercised separately below."""
    monkeypatch.setattr("invoicing.services.runs._refresh_flags", lambda user: None)


EXPECTED_PO1 = [
    ("AGR-100", "time", "", 30, D("0.50"), D("150.00"), D("75.00"), D("10.000")),
    ("AGR-100", "time", "Engineer", 135, D("2.25"), D("175.00"), D("393.75"), D("10.000")),
    ("AGR-101", "block", "", None, None, None, D("250.00"), D("10.000")),
    ("AGR-101", "time", "", 30, D("0.50"), D("100.00"), D("50.00"), D("10.000")),
    ("AGR-102", "milestone", "", None, None, None, D("3300.00"), D("0.000")),
]


def test_january_run_bills_exactly_what_spec_3_says():
    firm = build_firm()
    run = services.invoice_run_generate(period=dt.date(2026, 1, 17), user=None)

    assert run.status == "done" and run.period == JAN
    assert (run.groups_total, run.groups_done, run.invoices_created) == (3, 3, 3)
    assert run.entries_billed == 8
    po1 = Invoice.objects.get(account=firm["acme"], po_number="PO-1")
    assert line_rows(po1) == EXPECTED_PO1
    assert (po1.net, po1.tax, po1.total) == (D("4068.75"), D("76.88"), D("4145.63"))
    assert (po1.invoice_date, po1.due_date) == (dt.date(2026, 1, 31), dt.date(2026, 2, 15))
    assert po1.status == "draft" and po1.number is None and po1.billing_email == "ap@acme.example"

    po2 = Invoice.objects.get(account=firm["acme"], po_number="PO-2")
    assert line_rows(po2) == [
        ("AGR-200", "time", "", 45, D("0.75"), D("100.00"), D("75.00"), D("0.000"))
    ]
    assert (po2.total, po2.due_date) == (D("75.00"), dt.date(2026, 3, 2))
    eur = Invoice.objects.get(account=firm["bolt"])
    assert eur.currency == "EUR"
    assert line_rows(eur) == [
        ("AGR-300", "time", "", 66, D("1.10"), D("80.00"), D("88.00"), D("0.000"))
    ]

    claims = {
        eb.entry.external_id: (
            eb.rounded_minutes,
            eb.block_minutes,
            eb.billed_minutes,
            eb.invoice_id,
        )
        for eb in EntryBilling.objects.select_related("entry")
    }
    assert claims == {
        "1": (60, 0, 60, po1.pk),
        "2": (60, 0, 60, po1.pk),
        "3": (30, 0, 30, po1.pk),
        "12": (15, 0, 15, po1.pk),
        "4": (90, 90, 0, None),  # wholly drawn from the block: on no invoice
        "5": (60, 30, 30, po1.pk),  # crosses the balance: 30 minutes billed
        "6": (45, 0, 45, po2.pk),
        "7": (66, 0, 66, eur.pk),
    }
    assert MilestoneBilling.objects.get().milestone == firm["milestones"][0]


def test_preview_equals_the_real_run():
    build_firm()
    preview = selectors.invoice_run_preview(period=JAN)
    services.invoice_run_generate(period=JAN)
    stored = {(i.account_id, i.currency, i.po_number): i for i in Invoice.objects.all()}
    assert len(preview) == len(stored) == 3
    for p in preview:
        inv = stored[tuple(p.key)]
        assert [(x.amount, x.minutes, x.rate, x.description) for x in p.priced.lines] == [
            (x.amount, x.minutes, x.rate, x.description) for x in inv.lines.order_by("position")
        ]
        assert (p.priced.totals.net, p.priced.totals.tax, p.priced.totals.total) == (
            inv.net,
            inv.tax,
            inv.total,
        )
        assert p.priced.due_date == inv.due_date
    assert selectors.invoice_run_preview(period=JAN) == []  # nothing left to bill


def test_rerun_is_idempotent_and_adds_new_entries_to_the_open_draft():
    firm = build_firm()
    services.invoice_run_generate(period=JAN)
    before = snapshot()
    history_rows = Invoice.history.count() + EntryBilling.history.count()

    again = services.invoice_run_generate(period=JAN)
    assert snapshot() == before
    assert Invoice.history.count() + EntryBilling.history.count() == history_rows
    assert (again.invoices_created, again.invoices_updated, again.entries_billed) == (0, 0, 0)

    TimeEntryFactory(
        external_id="18",
        project_code="P100",
        date=dt.date(2026, 1, 25),
        duration_ms=minutes(30),
        role="ENGINEER",
        employee=firm["ann"],
    )
    third = services.invoice_run_generate(period=JAN)
    assert (third.invoices_created, third.invoices_updated, third.entries_billed) == (0, 1, 1)
    po1 = Invoice.objects.get(po_number="PO-1")
    assert Invoice.objects.filter(po_number="PO-1").count() == 1
    engineer = po1.lines.get(role="Engineer")
    assert (engineer.minutes, engineer.hours, engineer.amount) == (165, D("2.75"), D("481.25"))
    assert (po1.net, po1.tax, po1.total) == (D("4156.25"), D("85.63"), D("4241.88"))


def test_run_interrupted_after_some_invoices_then_run_again_ends_as_one_clean_run(monkeypatch):
    build_firm()
    expected = [
        (tuple(p.key), p.priced.totals.total) for p in selectors.invoice_run_preview(period=JAN)
    ]
    real = runs._generate_batch
    calls = {"n": 0}

    def dies_on_second_batch(**kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(**kw)

    monkeypatch.setattr("invoicing.services.runs.BATCH_GROUPS", 1)  # one group per batch
    monkeypatch.setattr("invoicing.services.runs._generate_batch", dies_on_second_batch)
    with pytest.raises(RuntimeError):
        services.invoice_run_generate(period=JAN)
    failed = InvoiceRun.objects.get()
    assert (failed.status, failed.groups_done, failed.groups_total) == ("failed", 1, 3)
    assert "worker killed" in failed.error
    assert Invoice.objects.count() == 1  # whole groups only

    monkeypatch.setattr("invoicing.services.runs._generate_batch", real)
    services.invoice_run_generate(period=JAN, run=failed)
    failed.refresh_from_db()
    # The second attempt only has the two unfinished groups left to do.
    assert (failed.status, failed.groups_done, failed.groups_total) == ("done", 2, 2)
    assert failed.invoices_created == 3  # counts add up over the attempts
    interrupted = snapshot()
    got = sorted(((i.account_id, i.currency, i.po_number), i.total) for i in Invoice.objects.all())
    assert got == sorted(expected)

    # Same data, one clean run: identical billing.
    with transaction.atomic():
        sid = transaction.savepoint()
        EntryBilling.objects.all().delete()
        MilestoneBilling.objects.all().delete()
        from invoicing.models import BlockBilling, InvoiceLine

        BlockBilling.objects.all().delete()
        InvoiceLine.objects.all().delete()
        Invoice.objects.all().delete()
        services.invoice_run_generate(period=JAN)
        assert snapshot() == interrupted
        transaction.savepoint_rollback(sid)


def test_february_bills_later_milestones_and_never_the_block_twice():
    firm = build_firm()
    services.invoice_run_generate(period=JAN)
    m3 = firm["milestones"][2]
    m3.completed_on = dt.date(2026, 2, 25)
    m3.save()
    TimeEntryFactory(
        external_id="20",
        project_code="P101",
        date=dt.date(2026, 2, 3),
        duration_ms=minutes(60),
        employee=firm["ann"],
    )
    services.invoice_run_generate(period=FEB)
    feb = Invoice.objects.get(period=FEB, po_number="PO-1")
    rows = line_rows(feb)
    assert ("AGR-101", "time", "", 60, D("1.00"), D("100.00"), D("100.00"), D("10.000")) in rows
    assert [r for r in rows if r[1] == "block"] == []
    assert [r[6] for r in rows if r[1] == "milestone"] == [D("3300.00"), D("3399.99")]
    # January's entry 10 (dated 1 Feb) is billed in February on the parent's default line? No:
    # it has role Engineer -> the Engineer line.
    assert (
        "AGR-100",
        "time",
        "Engineer",
        60,
        D("1.00"),
        D("175.00"),
        D("175.00"),
        D("10.000"),
    ) in rows
    assert sum(
        MilestoneBilling.objects.filter(milestone__agreement=firm["fixed"]).values_list(
            "line__amount", flat=True
        ),
        D("0"),
    ) == D("9999.99")


def test_rejected_draft_returns_entries_milestone_and_block_to_the_pool():
    build_firm()
    admin = UserFactory(username="rejector")
    services.invoice_run_generate(period=JAN)
    po1 = Invoice.objects.get(po_number="PO-1")
    first = line_rows(po1)
    services.invoice_reject(invoice=po1, user=admin, reason="Wrong customer contact")
    po1.refresh_from_db()
    assert po1.status == "rejected" and po1.rejection_reason == "Wrong customer contact"
    assert po1.lines.count() == 5  # kept for the record
    assert not EntryBilling.objects.filter(invoice=po1).exists()
    deleted = EntryBilling.history.filter(history_type="-")
    assert deleted.count() == 5 and {h.history_user for h in deleted} == {admin}

    services.invoice_run_generate(period=JAN)
    again = Invoice.objects.get(po_number="PO-1", status="draft")
    assert again.pk != po1.pk
    assert line_rows(again) == first


def test_database_refuses_billing_an_entry_twice():
    firm = build_firm()
    services.invoice_run_generate(period=JAN)
    eb = EntryBilling.objects.get(entry=firm["entries"]["1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        EntryBilling.objects.create(
            entry=eb.entry,
            agreement=eb.agreement,
            invoice=eb.invoice,
            line=eb.line,
            period=FEB,
            rounded_minutes=60,
            billed_minutes=60,
        )
    m = MilestoneBilling.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        MilestoneBilling.objects.create(milestone=m.milestone, invoice=m.invoice, line=m.line)


def test_run_refreshes_flags_first_with_the_real_reconciliation(monkeypatch):
    monkeypatch.undo()  # the real _refresh_flags
    firm = build_firm()
    seen = []
    from timesheets import services as ts

    real = ts.reconciliation_run
    monkeypatch.setattr(ts, "reconciliation_run", lambda **kw: seen.append(kw) or real(**kw))
    # A genuine duplicate of entry 1 (same employee, day, code, hours, notes, larger Entry ID).
    TimeEntryFactory(
        external_id="99",
        project_code="P100",
        date=dt.date(2026, 1, 5),
        duration_ms=minutes(60),
        employee=firm["ann"],
    )
    services.invoice_run_generate(period=JAN)
    assert len(seen) == 1 and seen[0]["user"] is None
    assert not EntryBilling.objects.filter(entry__external_id="99").exists()
    assert EntryBilling.objects.filter(entry__external_id="1").exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_never_double_bill():
    build_firm()
    errors = []

    def run():
        try:
            services.invoice_run_generate(period=JAN)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Invoice.objects.count() == 3
    assert EntryBilling.objects.count() == 8
    po1 = Invoice.objects.get(po_number="PO-1")
    assert line_rows(po1) == EXPECTED_PO1


def test_monthly_beat_task_invoices_the_previous_month_and_redelivery_is_a_no_op():
    import time_machine

    from invoicing.tasks import generate_invoices_task, generate_previous_month_task

    build_firm()
    with time_machine.travel(dt.datetime(2026, 2, 1, 3, 0, tzinfo=dt.UTC), tick=False):
        generate_previous_month_task()
    run = InvoiceRun.objects.get()
    assert (run.period, run.status, run.started_by, run.invoices_created) == (JAN, "done", None, 3)
    before = snapshot()
    generate_invoices_task(run.pk)  # a second delivery of the same task
    run.refresh_from_db()
    assert snapshot() == before and run.invoices_created == 3
    assert (
        Invoice.history.filter(history_type="+").first().history_user is None
    )  # nightly system job


# --- the run's shape: one snapshot, per-group re-check, bulk writes (issue 8) ----------------


def _run_queries() -> int:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        services.invoice_run_generate(period=JAN)
    return len(ctx.captured_queries)


def test_run_queries_do_not_grow_with_entries():
    firm = build_firm()
    with transaction.atomic():
        sid = transaction.savepoint()
        few = _run_queries()
        transaction.savepoint_rollback(sid)
    # 300 more entries on the same three groups (all three line kinds of PO-1 already exist).
    for i in range(300):
        TimeEntryFactory(
            external_id=str(1000 + i),
            project_code=("P100", "P101", "P300")[i % 3],
            date=dt.date(2026, 1, 1 + i % 28),
            duration_ms=minutes(15 + i % 7),
            role="Engineer",
            employee=firm["ben"],
            notes=f"task {i}",
        )
    many = _run_queries()
    assert EntryBilling.objects.count() == 8 + 300
    assert many == few
    # 3 groups: a fixed part (run record, snapshot: 12 queries) plus at most 15 per group.
    assert few <= 56


def test_entries_billed_or_blocked_after_the_snapshot_are_left_out():
    firm = build_firm()
    snap = selectors.run_snapshot(JAN)
    assert len(snap.groups) == 3
    # After the snapshot: a manager writes off entry 1, and another run bills everything.
    from tests.factories import FlagFactory
    from timesheets.models import Flag

    FlagFactory(
        code=Flag.Code.DUPLICATE_ENTRY,
        entry=firm["entries"]["1"],
        status=Flag.Status.WRITTEN_OFF,
        reason="Not billable after all",
    )
    run = InvoiceRun.objects.create(period=JAN)
    key = next(k for k in snap.groups if k.po_number == "PO-1")
    runs._generate_group(run_id=run.pk, key=key, snapshot=snap, user=None)
    assert not EntryBilling.objects.filter(entry=firm["entries"]["1"]).exists()
    billed = set(EntryBilling.objects.values_list("entry__external_id", flat=True))
    assert billed == {"2", "3", "4", "5", "12"}

    services.invoice_run_generate(period=JAN)  # bills the other two groups
    before = snapshot()
    for k in snap.groups:  # the stale snapshot again: nothing is billed twice, nothing fails
        runs._generate_group(run_id=run.pk, key=k, snapshot=snap, user=None)
    assert snapshot() == before


def test_snapshot_partitions_eligible_entries_by_group():
    firm = build_firm()
    snap = selectors.run_snapshot(JAN)
    ids = {e.pk: ext for ext, e in firm["entries"].items()}
    by_po = {
        k.po_number or k.currency: sorted(ids[i] for i in v) for k, v in snap.entry_ids.items()
    }
    assert by_po == {"PO-1": ["1", "12", "2", "3", "4", "5"], "PO-2": ["6"], "EUR": ["7"]}
    assert [len(v) for v in snap.milestone_ids.values()] == [1]
    assert list(snap.block_ids.values()) == [[firm["prepaid"].pk]]
    assert selectors.billing_groups(JAN) == snap.groups
