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
from pathlib import Path

import pytest

from core import roles
from core.models import IDEMPOTENCY_LEASE, IdempotencyKey
from core.tokens import token_create
from invoicing.models import Invoice, NumberSequence
from invoicing.services import invoice_run_generate
from tests.factories import UserFactory
from tests.reliability.billing_data import PERIOD, build_firm
from tests.reliability.production import Gunicorn, held, lock_waiters
from tests.reliability.workers import free_port
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


def test_killed_approval_request_is_released_within_the_lease(trial_log, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    build_firm(groups=1, entries_per_group=3)
    invoice_run_generate(period=PERIOD)
    draft = Invoice.objects.filter(status="draft").order_by("id").first()
    assert draft is not None
    approver = UserFactory(username="kill.request", roles=[roles.BILLING_ADMIN])
    token = token_create(user=approver)[1]
    queue = f"web-{uuid.uuid4().hex[:10]}"  # the render tasks go there; no worker reads it
    server = Gunicorn(queue, Path(f"/tmp/billable-{queue}.log"), free_port())
    server.start()
    url = f"{server.url}/api/v1/invoices/{draft.pk}/approve/"
    key = f"kill-{uuid.uuid4().hex}"
    body = {"version": draft.version}
    first: dict = {}
    try:
        trial_log.trial()
        with held("LOCK TABLE invoicing_numbersequence IN SHARE ROW EXCLUSIVE MODE"):

            def send() -> None:
                try:
                    first["answer"] = post(url, token, key, body)
                except OSError as exc:  # the connection dies with the worker
                    first["error"] = repr(exc)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            waiting = wait_for(lambda: lock_waiters("invoicing_numbersequence"), timeout=60)
            claimed = IdempotencyKey.objects.get(key=key)
            assert claimed.response_status is None and claimed.lease_until is not None
            victim = server.worker_serving(waiting[0][1])
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            sender.join(timeout=30)
        trial_log.check("answer" not in first, f"the killed request answered: {first}")
        trial_log.check(
            Invoice.objects.get(pk=draft.pk).status == "draft", "approved by the killed request"
        )

        conflicts: list[int] = []
        answer = None
        while time.monotonic() - killed_at < IDEMPOTENCY_LEASE.total_seconds() + 30:
            status, headers, data = post(url, token, key, body)
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
        trial_log.check(answer is not None and answer[0] == 200, f"retry answered {answer}")
        trial_log.check(
            released < IDEMPOTENCY_LEASE.total_seconds() + 10,
            f"the key was released {released:.1f} s after the kill (lease 60 s)",
        )
        trial_log.check(
            all(0 < wait <= IDEMPOTENCY_LEASE.total_seconds() for wait in conflicts),
            f"Retry-After outside the lease: {conflicts}",
        )
        again = post(url, token, key, body)
        trial_log.check(
            again[0] == 200 and again[1].get("Idempotent-Replayed") == "true",
            f"the next retry was not a replay: {again[0]} {again[1]}",
        )
        if answer is not None:
            trial_log.check(again[2] == answer[2], "the replay differs from the answer")
        invoice = Invoice.objects.get(pk=draft.pk)
        trial_log.check(
            (invoice.status, invoice.number) == ("approved", "INV-2026-00001"),
            f"invoice {invoice.status} {invoice.number}",
        )
        numbers = set(
            Invoice.history.filter(id=draft.pk).exclude(number=None).values_list("number")
        )
        trial_log.check(len(numbers) == 1, f"numbers taken for the invoice: {numbers}")
        last = NumberSequence.objects.get(series="INV", year=2026).last
        trial_log.check(last == 1, f"the sequence is at {last}: a number taken twice or lost")
        trial_log.check(len(server.workers()) == 2, "gunicorn did not replace its worker")
    finally:
        server.stop()
    trial_log.assert_clean()
