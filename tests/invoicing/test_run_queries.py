"""The invoice run is set-based per batch of groups (issue 16): its query count does not depend
on the number of billing groups, and it bills exactly what one transaction per group bills."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from agreements.models import Agreement
from invoicing import selectors, services
from invoicing.models import BlockBilling, EntryBilling, InvoiceRun, MilestoneBilling
from tests.factories import (
    AccountFactory,
    AgreementFactory,
    EmployeeFactory,
    MilestoneFactory,
    RoleRateFactory,
    TimeEntryFactory,
    UserFactory,
)
from tests.invoicing.helpers import JAN, minutes, snapshot

D = Decimal
pytestmark = pytest.mark.django_db


def build_groups(n: int, *, tag: str) -> list:
    """`n` billing groups, each with a T&M agreement (rate card), a Prepaid Hours child (its
    block billed, one entry partly beyond it) and a Fixed Fee child with a milestone due."""
    emp = EmployeeFactory(external_id=f"E-{tag}")
    parents = []
    for i in range(n):
        account = AccountFactory(external_id=f"ACC-{tag}-{i:03d}")
        parent = AgreementFactory(
            account=account,
            external_id=f"AGR-{tag}-{i:03d}",
            project_code=f"T{tag}{i:03d}",
            po_number=f"PO-{i}",
            hourly_rate=D("150.00"),
            tax_rate=D("10") if i % 2 else D("0"),
        )
        RoleRateFactory(agreement=parent, role="Engineer", rate=D("175.00"))
        prepaid = AgreementFactory(
            account=account,
            parent=parent,
            external_id=f"AGR-{tag}-{i:03d}-P",
            project_code=f"P{tag}{i:03d}",
            agreement_type=Agreement.Type.PREPAID_HOURS,
            hours_sold=D("1"),
            amount=D("100.00"),
            hourly_rate=D("90.00"),
        )
        fixed = AgreementFactory(
            account=account,
            parent=parent,
            external_id=f"AGR-{tag}-{i:03d}-F",
            project_code=f"F{tag}{i:03d}",
            agreement_type=Agreement.Type.FIXED_FEE,
            amount=D("1000.00"),
            hourly_rate=None,
        )
        MilestoneFactory(agreement=fixed, position=1, percent=D("100"), due_date=JAN)
        for day, code, mins, role in (
            (5, parent.project_code, 50, "Engineer"),
            (6, parent.project_code, 20, "Designer"),
            (7, prepaid.project_code, 45, ""),
            (8, prepaid.project_code, 40, ""),  # 15 from the block, 30 beyond it
        ):
            TimeEntryFactory(
                external_id=f"{tag}-{i}-{day}",
                project_code=code,
                date=dt.date(2026, 1, day),
                duration_ms=minutes(mins),
                role=role,
                employee=emp,
            )
        parents.append(parent)
    return parents


def add_entries(parents) -> None:
    """One more entry per group (a re-run then updates every draft)."""
    for p in parents:
        TimeEntryFactory(
            external_id=f"{p.external_id}-late",
            project_code=p.project_code,
            date=dt.date(2026, 1, 20),
            duration_ms=minutes(30),
            role="Engineer",
        )


def run_queries(user=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        services.invoice_run_generate(period=JAN, user=user)
    return len(ctx.captured_queries)


def counts_for(n: int) -> tuple[int, int]:
    """(first run, re-run onto the drafts) query counts for `n` groups, rolled back after."""
    with transaction.atomic():
        sid = transaction.savepoint()
        parents = build_groups(n, tag=f"n{n}")
        first = run_queries()
        assert EntryBilling.objects.count() == 4 * n
        add_entries(parents)
        again = run_queries()
        assert EntryBilling.objects.count() == 5 * n
        transaction.savepoint_rollback(sid)
    return first, again


def test_run_query_count_is_the_same_for_5_and_50_groups():
    assert counts_for(5) == counts_for(50)


def test_run_query_count_is_bounded(django_assert_max_num_queries):
    build_groups(50, tag="b")
    # Reconciliation, run record, snapshot and one batch of 50 groups.
    with django_assert_max_num_queries(90):
        services.invoice_run_generate(period=JAN)
    assert InvoiceRun.objects.get().invoices_created == 50


def test_batched_run_bills_exactly_what_one_group_per_transaction_bills(monkeypatch):
    parents = build_groups(12, tag="s")
    preview = {
        tuple(p.key): (p.priced.totals.total, len(p.priced.lines))
        for p in selectors.invoice_run_preview(period=JAN)
    }
    results = {}
    for batch in (1, 5, 100):
        monkeypatch.setattr("invoicing.services.runs.BATCH_GROUPS", batch)
        with transaction.atomic():
            sid = transaction.savepoint()
            services.invoice_run_generate(period=JAN)
            first = snapshot()
            add_entries(parents)
            services.invoice_run_generate(period=JAN)
            results[batch] = (first, snapshot())
            transaction.savepoint_rollback(sid)
    assert results[1] == results[5] == results[100]
    first = results[1][0][0]  # invoices (the snapshot also holds the claims)
    assert len(first) == 12
    # Net of each: Engineer 1 h at 175 + Designer 0.5 h at 150 + block 100 + 0.5 h at 90 + 1000.
    assert {inv[7] for inv in first} == {D("1395.00")}
    assert {(inv[1], inv[2]): (inv[9], len(inv[10])) for inv in first} == {
        (k[1], k[2]): v for k, v in preview.items()
    }


def test_entry_billings_and_their_history_are_written_with_the_runs_user():
    build_groups(3, tag="h")
    user = UserFactory(username="runner")
    run = services.invoice_run_generate(period=JAN, user=user)
    history = EntryBilling.history.model.objects.all()
    assert history.count() == EntryBilling.objects.count() == 12
    assert set(history.values_list("history_type", "history_user", "history_change_reason")) == {
        ("+", user.pk, f"Invoice run #{run.pk}")
    }
    # The history rows are the rows: same ids and values.
    fields = ["id", "entry_id", "invoice_id", "line_id", "rounded_minutes", "block_minutes"]
    assert sorted(history.values_list(*fields)) == sorted(EntryBilling.objects.values_list(*fields))
    assert MilestoneBilling.objects.count() == BlockBilling.objects.count() == 3
    assert run.entries_billed == 12 and run.invoices_created == 3


def batch_query_counts(monkeypatch, groups: int, batch: int) -> tuple[list[int], list[int]]:
    """Queries of each batch transaction, first run and re-run onto the drafts, for
    `tests.world.many_groups(groups)` (groups + 1 billing groups) in batches of `batch` groups;
    rolled back after."""
    from invoicing.services import runs
    from tests.world import many_groups

    counts: list[int] = []
    real = runs._generate_batch

    def counted(**kwargs):
        with CaptureQueriesContext(connection) as ctx:
            outcome = real(**kwargs)
        counts.append(len(ctx.captured_queries))
        return outcome

    monkeypatch.setattr(runs, "BATCH_GROUPS", batch)
    monkeypatch.setattr(runs, "_generate_batch", counted)
    with transaction.atomic():
        sid = transaction.savepoint()
        many_groups(groups=groups, entries_per_group=3)
        services.invoice_run_generate(period=JAN)
        first, counts[:] = list(counts), []
        for agreement in Agreement.objects.filter(project_code__startswith="REL-"):
            TimeEntryFactory(
                external_id=f"late-{agreement.project_code}",
                project_code=agreement.project_code,
                date=dt.date(2026, 1, 25),
                duration_ms=minutes(30),
                role="Engineer",
            )
        services.invoice_run_generate(period=JAN)
        again = list(counts)
        transaction.savepoint_rollback(sid)
    return first, again


def test_queries_per_batch_do_not_depend_on_the_number_of_customers(monkeypatch):
    """N customers in batches of 4 groups and 2N in batches of 8 (tests.world.many_groups, plus
    its Prepaid/Fixed Fee customer): as many batches, twice the groups in each, and each batch
    sends the same number of queries, on the first run and on the re-run onto the drafts."""
    n = batch_query_counts(monkeypatch, 8, batch=4)  # 9 groups: batches of 4, 4, 1
    twice = batch_query_counts(monkeypatch, 16, batch=8)  # 17 groups: 8, 8, 1
    assert [len(counts) for counts in n] == [3, 3]
    assert twice == n
