"""A request killed with its worker, on gunicorn with DEBUG off (issue 17 item 5).

gunicorn serves the API as production does (tests/reliability/production.py: two sync workers,
DEBUG off). A billing admin approves a draft with `Idempotency-Key: K`; the approval is stopped
inside its transaction, at the number (the numbering table is locked from another connection, as
a slow approval holds a request there), and the gunicorn worker handling it (found by its
PostgreSQL connection) is SIGKILLed; the master starts another. The client then retries with K
about once a second, as an impatient client would: while the dead request's lease runs the answer
is 409 with a Retry-After within the lease; then the retry approves the draft (200), and the next
retry replays that answer. Measured: seconds from the kill to the first 200. Asserted: within the
lease (60 s) plus the time one retry takes, never a 409 after it, the invoice numbered once.

The second test kills the worker later: the approval done, its answer about to be stored for K
(the key's row locked from another connection), and PostgreSQL sees the connection die
(`pg_terminate_backend`, as when the machine is lost). The action and its stored answer commit
together or not at all, so the retry gets the approval's 200 (replayed or run once), never the
409 "only a draft can be approved" that the approval's own transaction committing first left
stored for 24 hours.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from core import roles
from core.embedded_pg import free_port
from core.models import IDEMPOTENCY_LEASE, IdempotencyKey
from core.tokens import token_create
from invoicing.models import Invoice, NumberSequence
from invoicing.services import invoice_run_generate
from tests.factories import UserFactory
from tests.reliability.billing_data import PERIOD, build_firm
from tests.reliability.production import Gunicorn, held, lock_waiters
from tests.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def post(url: str, token: str, key: str, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@dataclass
class Approval:
    server: Gunicorn
    url: str
    token: str
    key: str
    body: dict
    draft: Invoice
    first: dict

    def send(self) -> threading.Thread:
        """POST the approval with the key from a thread (it hangs, then dies with its worker)."""

        def run() -> None:
            try:
                self.first["answer"] = post(self.url, self.token, self.key, self.body)
            except OSError as exc:  # the connection dies with the worker
                self.first["error"] = repr(exc)

        sender = threading.Thread(target=run, daemon=True)
        sender.start()
        return sender


@pytest.fixture
def approval(settings, tmp_path) -> Iterator[Approval]:
    """A draft, a billing admin's token, and gunicorn serving the API (DEBUG off)."""
    settings.MEDIA_ROOT = tmp_path
    build_firm(groups=1, entries_per_group=3)
    invoice_run_generate(period=PERIOD)
    draft = Invoice.objects.filter(status="draft").order_by("id").first()
    assert draft is not None
    approver = UserFactory(username="kill.request", roles=[roles.BILLING_ADMIN])
    queue = f"web-{uuid.uuid4().hex[:10]}"  # the render tasks go there; no worker reads it
    server = Gunicorn(queue, Path(f"/tmp/billable-{queue}.log"), free_port())
    server.start()
    try:
        yield Approval(
            server=server,
            url=f"{server.url}/api/v1/invoices/{draft.pk}/approve/",
            token=token_create(user=approver)[1],
            key=f"kill-{uuid.uuid4().hex}",
            body={"version": draft.version},
            draft=draft,
            first={},
        )
    finally:
        server.stop()


def test_killed_approval_request_is_released_within_the_lease(approval, trial_log):
    trial_log.trial()
    with held("LOCK TABLE invoicing_numbersequence IN SHARE ROW EXCLUSIVE MODE"):
        sender = approval.send()
        waiting = wait_for(lambda: lock_waiters("invoicing_numbersequence"), timeout=60)
        claimed = IdempotencyKey.objects.get(key=approval.key)
        assert claimed.response_status is None and claimed.lease_until is not None
        os.kill(approval.server.worker_serving(waiting[0][1]), signal.SIGKILL)
        killed_at = time.monotonic()
        sender.join(timeout=30)
    trial_log.check(
        "answer" not in approval.first, f"the killed request answered: {approval.first}"
    )
    trial_log.check(
        Invoice.objects.get(pk=approval.draft.pk).status == "draft",
        "approved by the killed request",
    )
    retry_until_answered(approval, trial_log, killed_at)
    trial_log.assert_clean()


def answer_waiters() -> list[tuple[int, int]]:
    """(backend pid, client port) of a request waiting to store its answer for a key."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT a.pid, a.client_port FROM pg_stat_activity a"
            " JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted"
            " WHERE a.query ILIKE %s AND a.query ILIKE %s",
            ["%core_idempotencykey%", "%response_body%"],
        )
        return cur.fetchall()


def test_killed_before_its_answer_is_stored_the_retry_gets_the_approval(approval, trial_log):
    trial_log.trial()
    with ExitStack() as numbering, ExitStack() as answer:
        numbering.enter_context(
            held("LOCK TABLE invoicing_numbersequence IN SHARE ROW EXCLUSIVE MODE")
        )
        sender = approval.send()
        wait_for(lambda: lock_waiters("invoicing_numbersequence"), timeout=60)
        answer.enter_context(
            held(f"SELECT 1 FROM core_idempotencykey WHERE key = '{approval.key}' FOR UPDATE")
        )
        numbering.close()  # the approval goes on, to the storing of its answer
        backend, port = wait_for(answer_waiters, timeout=60)[0]
        os.kill(approval.server.worker_serving(port), signal.SIGKILL)
        killed_at = time.monotonic()
        with connection.cursor() as cur:  # the database sees the connection gone
            cur.execute("SELECT pg_terminate_backend(%s)", [backend])
        sender.join(timeout=30)
    trial_log.check(
        "answer" not in approval.first, f"the killed request answered: {approval.first}"
    )
    retry_until_answered(approval, trial_log, killed_at)
    trial_log.assert_clean()


def retry_until_answered(approval: Approval, trial_log, killed_at: float) -> None:
    """Retry with the key once a second until an answer other than 409; check it, the replay
    after it, and that the draft was approved and numbered once."""
    conflicts: list[int] = []
    answer = None
    data: dict = {}
    while time.monotonic() - killed_at < IDEMPOTENCY_LEASE.total_seconds() + 30:
        status, headers, data = post(approval.url, approval.token, approval.key, approval.body)
        if status != 409:
            answer = (status, headers, data)
            break
        conflicts.append(int(headers.get("Retry-After", "0")))
        time.sleep(1)
    released = time.monotonic() - killed_at
    trial_log.notes.update(
        released_after_s=round(released, 1),
        conflicts=len(conflicts),
        retry_after_first_last=[conflicts[0], conflicts[-1]] if conflicts else [],
        lease_s=IDEMPOTENCY_LEASE.total_seconds(),
        load_average=os.getloadavg()[0],
    )
    print(f"\nkilled request: {trial_log.notes}")
    trial_log.check(answer is not None and answer[0] == 200, f"retry answered {answer or data}")
    trial_log.check(
        released < IDEMPOTENCY_LEASE.total_seconds() + 10,
        f"the key was released {released:.1f} s after the kill (lease 60 s)",
    )
    trial_log.check(
        all(0 < wait <= IDEMPOTENCY_LEASE.total_seconds() for wait in conflicts),
        f"Retry-After outside the lease: {conflicts}",
    )
    again = post(approval.url, approval.token, approval.key, approval.body)
    trial_log.check(
        again[0] == 200 and again[1].get("Idempotent-Replayed") == "true",
        f"the next retry was not a replay: {again[0]} {again[1]}",
    )
    if answer is not None:
        trial_log.check(again[2] == answer[2], "the replay differs from the answer")
    invoice = Invoice.objects.get(pk=approval.draft.pk)
    trial_log.check(
        (invoice.status, invoice.number) == ("approved", "INV-2026-00001"),
        f"invoice {invoice.status} {invoice.number}",
    )
    history = Invoice.history.filter(id=invoice.pk).exclude(number=None)
    numbers = set(history.values_list("number", flat=True))
    trial_log.check(len(numbers) == 1, f"numbers taken for the invoice: {numbers}")
    last = NumberSequence.objects.get(series="INV", year=2026).last
    trial_log.check(last == 1, f"the sequence is at {last}: a number taken twice or lost")
    trial_log.check(len(approval.server.workers()) == 2, "gunicorn did not replace its worker")
