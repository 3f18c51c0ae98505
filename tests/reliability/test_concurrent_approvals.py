"""Concurrent approvals (issue 9): gapless INV numbers under 16 racing threads.

- 16 threads approve 200 drafts in random order (some drafts queued twice, so two threads race
  for them; some approvals fail after their number was taken). Afterwards the numbers of the
  approved invoices are exactly 1..N (no duplicate, no gap), follow approval (commit) order, the
  sequence row says N, the failed drafts are still drafts without a number, and every second
  attempt on a draft was a clear refusal.
- Two threads released at once on the same draft: one number, one BillingError.
A trial is one approval attempt; a violation is any of the above not holding.

The final PDF renders after the approval commits (outside the number lock); the short version
replaces the renderer by a stub to keep the trial fast, BILLABLE_LONG_TRIALS=1 renders real PDFs.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, connections

from core.errors import BillingError
from invoicing.models import Invoice, InvoiceLine, NumberSequence
from invoicing.services import approval
from tests.factories import AccountFactory, UserFactory
from tests.invoicing.helpers import approve as approve_current
from tests.reliability.conftest import long_trials, trial_count

THREADS = 16
STUB_PDF = b"%PDF-1.4\n%stub\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class InjectedFailure(Exception):
    """A crash after the number was taken (while the approved invoice is written)."""


def make_drafts(n: int, year: int = 2026) -> list[int]:
    account = AccountFactory(external_id="REL-CONC", name="Concurrent Ltd")
    invoices = Invoice.objects.bulk_create(
        [
            Invoice(
                account=account,
                currency="USD",
                po_number=f"PO-{i:04d}",
                period=dt.date(year, 1, 1),
                invoice_date=dt.date(year, 1, 31),
                due_date=dt.date(year, 3, 2),
                net=Decimal("100.00"),
                tax=Decimal("0.00"),
                total=Decimal("100.00"),
            )
            for i in range(n)
        ]
    )
    InvoiceLine.objects.bulk_create(
        [
            InvoiceLine(
                invoice=inv,
                kind=InvoiceLine.Kind.TIME,
                description="Consulting",
                minutes=40,
                hours=Decimal("0.67"),
                rate=Decimal("150.00"),
                amount=Decimal("100.00"),
            )
            for inv in invoices
        ]
    )
    return [inv.pk for inv in invoices]


@pytest.fixture
def pdf_stub(monkeypatch):
    """Short version: a stub PDF (the lock and numbering logic stay real). `fail_ids` makes the
    approval of those drafts crash after their number was taken."""
    fail_ids: set[int] = set()
    real = approval.invoice_pdf
    real_with_user = approval.with_user

    def render(invoice):
        return real(invoice) if long_trials() else STUB_PDF

    def with_user(obj, user):
        if isinstance(obj, Invoice) and obj.number and obj.pk in fail_ids:
            raise InjectedFailure(f"injected failure after taking {obj.number}")
        return real_with_user(obj, user)

    monkeypatch.setattr("invoicing.services.approval.invoice_pdf", render)
    monkeypatch.setattr("invoicing.services.approval.with_user", with_user)
    return fail_ids


def run_threads(target, n: int) -> None:
    threads = [threading.Thread(target=target, name=f"approver-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "an approver thread hung"


@pytest.mark.django_db(transaction=True)
def test_sixteen_threads_approve_two_hundred_drafts_gapless(
    trial_log, pdf_stub, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    n_drafts = trial_count(200, 1000)
    ids = make_drafts(n_drafts)
    users = [UserFactory(username=f"approver{i}") for i in range(4)]
    rnd = random.Random(9)
    doubled = rnd.sample(ids, max(2, n_drafts // 10))  # raced by two threads
    failing = set(rnd.sample([i for i in ids if i not in doubled], max(1, n_drafts // 20)))
    pdf_stub.update(failing)
    queue = ids + doubled
    rnd.shuffle(queue)
    lock = threading.Lock()
    outcomes: list[
        tuple[int, str, str]
    ] = []  # (invoice id, "ok" | "refused" | "failed" | "error", detail)

    def approver():
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    invoice_id = queue.pop()
                user = users[invoice_id % len(users)]
                try:
                    inv = approve_current(invoice=Invoice(pk=invoice_id), user=user)
                    result = (invoice_id, "ok", inv.number)
                except BillingError as exc:
                    result = (invoice_id, "refused", str(exc))
                except InjectedFailure as exc:
                    result = (invoice_id, "failed", str(exc))
                except Exception as exc:  # noqa: BLE001 - deadlock, integrity error...: violations
                    result = (invoice_id, "error", f"{type(exc).__name__}: {exc}")
                with lock:
                    outcomes.append(result)
        finally:
            connections.close_all()

    run_threads(approver, THREADS)
    trial_log.trial(len(outcomes))
    trial_log.check(len(outcomes) == len(ids) + len(doubled), f"{len(outcomes)} outcomes")

    errors = [o for o in outcomes if o[1] == "error"]
    trial_log.check(not errors, f"unexpected errors: {errors[:3]}")
    ok = Counter(o[0] for o in outcomes if o[1] == "ok")
    trial_log.check(all(c == 1 for c in ok.values()), "a draft was approved twice")
    for invoice_id in doubled:
        results = sorted(o[1] for o in outcomes if o[0] == invoice_id)
        if invoice_id in failing:
            continue
        trial_log.check(results == ["ok", "refused"], f"draft {invoice_id} raced: {results}")
    for o in outcomes:
        if o[1] == "refused":
            trial_log.check("only a draft can be approved" in o[2], f"unclear refusal: {o[2]}")

    approved = list(
        Invoice.objects.filter(status="approved")
        .order_by("number_seq")
        .values_list("pk", "number", "number_year", "number_seq", "approved_at")
    )
    seqs = [a[3] for a in approved]
    expected = len(ids) - len(failing)
    trial_log.check(len(approved) == expected, f"{len(approved)} approved, expected {expected}")
    trial_log.check(
        seqs == list(range(1, len(seqs) + 1)), f"numbers not 1..N: gaps/dupes in {seqs[:10]}..."
    )
    trial_log.check(
        all(num == f"INV-2026-{seq:05d}" and year == 2026 for _, num, year, seq, _ in approved),
        "number text does not match its sequence",
    )
    times = [a[4] for a in approved]
    trial_log.check(times == sorted(times), "numbers do not follow approval order")
    last = NumberSequence.objects.get(series="INV", year=2026).last
    trial_log.check(last == len(approved), f"sequence says {last}, {len(approved)} approved")
    still_draft = set(
        Invoice.objects.filter(pk__in=failing, status="draft", number__isnull=True).values_list(
            "pk", flat=True
        )
    )
    trial_log.check(still_draft == failing, "a failed approval left a number or a status behind")
    trial_log.notes.update(
        drafts=len(ids), raced=len(doubled), injected_failures=len(failing), approved=len(approved)
    )
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_two_threads_on_one_draft_one_number_one_refusal(trial_log, pdf_stub, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    duels = trial_count(20, 200)
    ids = make_drafts(duels)
    a, b = UserFactory(username="duel-a"), UserFactory(username="duel-b")
    for invoice_id in ids:
        barrier = threading.Barrier(2)
        results: list[tuple[str, str]] = []

        def approve(user, invoice_id=invoice_id, barrier=barrier, results=results):
            try:
                barrier.wait(timeout=30)
                inv = approve_current(invoice=Invoice(pk=invoice_id), user=user)
                results.append(("ok", inv.number))
            except BillingError as exc:
                results.append(("refused", str(exc)))
            except Exception as exc:  # noqa: BLE001
                results.append(("error", f"{type(exc).__name__}: {exc}"))
            finally:
                connection.close()

        threads = [threading.Thread(target=approve, args=(u,)) for u in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        trial_log.trial()
        kinds = sorted(r[0] for r in results)
        trial_log.check(kinds == ["ok", "refused"], f"draft {invoice_id}: {results}")
        refusal = next((r[1] for r in results if r[0] == "refused"), "")
        trial_log.check("only a draft can be approved" in refusal, f"unclear refusal {refusal!r}")
    seqs = sorted(Invoice.objects.filter(status="approved").values_list("number_seq", flat=True))
    trial_log.check(seqs == list(range(1, duels + 1)), f"numbers {seqs}")
    trial_log.assert_clean()


@pytest.mark.django_db(transaction=True)
def test_failure_after_taking_a_number_leaves_no_gap(trial_log, pdf_stub, settings, tmp_path):
    """Every other approval crashes after take_number: the next success reuses the number."""
    settings.MEDIA_ROOT = tmp_path
    ids = make_drafts(20)
    user = UserFactory(username="solo-approver")
    pdf_stub.update(ids[::2])
    for invoice_id in ids:
        trial_log.trial()
        try:
            approve_current(invoice=Invoice(pk=invoice_id), user=user)
        except InjectedFailure:
            inv = Invoice.objects.get(pk=invoice_id)
            trial_log.check(
                inv.status == "draft" and inv.number is None, f"{invoice_id} half-approved"
            )
    numbers = list(
        Invoice.objects.filter(status="approved")
        .order_by("number_seq")
        .values_list("number", flat=True)
    )
    trial_log.check(numbers == [f"INV-2026-{i:05d}" for i in range(1, 11)], f"numbers {numbers}")
    trial_log.check(
        NumberSequence.objects.get(series="INV", year=2026).last == 10,
        "sequence moved on a failure",
    )
    trial_log.assert_clean()
