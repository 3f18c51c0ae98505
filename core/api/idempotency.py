"""Idempotency-Key on POST/PUT/PATCH/DELETE.

Same key + same request replays the first answer; same key + a different request is refused
with 422; still running: 409 with Retry-After. A running request holds its key for
IDEMPOTENCY_LEASE, renewed every third of it from a thread while it runs; a request whose worker
died stops renewing, and once the lease has lapsed the next request with the key runs (issue 17
item 5: it used to answer 409 for 24 hours).

Once the key is claimed (committed, so a concurrent request sees it), the action runs and its
answer is stored in one transaction: a worker killed after the action but before the answer
leaves neither, and the next request with the key runs the action once (before, the action was
committed without its answer, and the retry stored the refusal of doing it again, e.g. "only a
draft can be approved", for the key's 24 hours). A failed action is rolled back to the claim
before its error answer is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from typing import Any

from django.core.files.base import File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.models import IDEMPOTENCY_LEASE, IDEMPOTENCY_TTL, IdempotencyKey

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": r"^[!-~]([ -~]*[!-~])?$",
}


class IdempotencyConflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry shortly."
    default_code = "idempotency_in_progress"

    def __init__(self, wait: float | None = None) -> None:
        super().__init__()
        # Seconds until the first request's lease lapses (the handler sends it as Retry-After).
        self.wait = max(1, math.ceil(wait)) if wait is not None else 1


class IdempotencyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used for a different request. "
        "Send a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class _Replay(Exception):
    """Raised inside `initial()` to short-circuit a request whose answer is already stored."""

    def __init__(self, record: IdempotencyKey) -> None:
        super().__init__(record.key)
        self.record = record

    def response(self) -> Response:
        data = json.loads(self.record.response_body) if self.record.response_body else None
        headers = dict(self.record.response_headers or {})
        headers["Idempotent-Replayed"] = "true"
        return Response(data, status=self.record.response_status, headers=headers)


def _hash_value(h: Any, value: Any) -> None:
    if isinstance(value, File):
        h.update(b"file:" + (value.name or "").encode())
        value.seek(0)
        for chunk in value.chunks():
            h.update(chunk)
        value.seek(0)
    elif isinstance(value, bytes):
        h.update(b"bytes:" + value)
    else:
        h.update(json.dumps(value, sort_keys=True, cls=JSONEncoder, default=str).encode())


def request_fingerprint(request: Request) -> str:
    """SHA-256 over method, path, sorted query and the PARSED body (so two multipart uploads of
    the same file with different boundaries are the same request)."""
    h = hashlib.sha256()
    h.update(request.method.encode() + b" " + request.path.encode() + b"?")
    h.update(json.dumps(sorted(request.query_params.lists())).encode())
    data = request.data
    if hasattr(data, "lists"):
        for name, values in sorted(data.lists(), key=lambda item: item[0]):
            h.update(b"\x00field:" + name.encode())
            for value in values:
                _hash_value(h, value)
    elif isinstance(data, dict) and any(isinstance(v, File | bytes) for v in data.values()):
        for name in sorted(data):
            h.update(b"\x00field:" + str(name).encode())
            _hash_value(h, data[name])
    else:
        _hash_value(h, data)
    return h.hexdigest()


def idempotency_purge() -> int:
    """Delete keys older than IDEMPOTENCY_TTL; returns how many."""
    cutoff = timezone.now() - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _lease_end(record: IdempotencyKey) -> Any:
    return record.lease_until or record.created_at + IDEMPOTENCY_LEASE


def _take_over(existing: IdempotencyKey) -> IdempotencyKey | None:
    """Claim a key whose request died (no answer, lease lapsed); None if another request won."""
    now = timezone.now()
    held = IdempotencyKey.objects.filter(pk=existing.pk, response_status__isnull=True)
    if existing.lease_until is None:
        held = held.filter(lease_until__isnull=True)
    else:
        held = held.filter(lease_until=existing.lease_until)
    if held.update(lease_until=now + IDEMPOTENCY_LEASE, created_at=now):
        return IdempotencyKey.objects.get(pk=existing.pk)
    return None


def idempotency_begin(*, user: Any, key: str, request: Request) -> IdempotencyKey:
    """Claim `key` for this request, or raise: _Replay (answer stored), IdempotencyConflict
    (first request still running, within its lease) or IdempotencyMismatch (key used for
    another request). A key whose request died without an answer is taken over once its
    lease has lapsed."""
    fingerprint = request_fingerprint(request)
    idempotency_purge()
    for _attempt in range(3):
        try:
            with transaction.atomic():
                now = timezone.now()
                return IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    method=request.method,
                    path=request.path[:2000],
                    request_hash=fingerprint,
                    created_at=now,
                    lease_until=now + IDEMPOTENCY_LEASE,
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
            if existing is None:  # expired and purged between the two statements
                continue
            if existing.request_hash != fingerprint:
                raise IdempotencyMismatch() from None
            if existing.response_status is not None:
                raise _Replay(existing) from None
            remaining = (_lease_end(existing) - timezone.now()).total_seconds()
            if remaining > 0:
                raise IdempotencyConflict(wait=remaining) from None
            taken = _take_over(existing)
            if taken is not None:
                return taken
    raise IdempotencyConflict(wait=IDEMPOTENCY_LEASE.total_seconds())


class _LeaseKeeper:
    """Renews a claimed key's lease every third of IDEMPOTENCY_LEASE while its request runs. The
    thread dies with the worker process, which is what lets a dead request's lease lapse. Not
    started inside an outer transaction (tests), where the row is not visible to the thread."""

    def __init__(self, pk: int) -> None:
        self.pk = pk
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        if not connection.in_atomic_block:
            self.thread = threading.Thread(target=self._run, name=f"lease-{pk}", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.wait(IDEMPOTENCY_LEASE.total_seconds() / 3):
                IdempotencyKey.objects.filter(pk=self.pk, response_status__isnull=True).update(
                    lease_until=timezone.now() + IDEMPOTENCY_LEASE
                )
        finally:
            connection.close()

    def end(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


def idempotency_finish(record: IdempotencyKey, response: Any) -> None:
    if response.status_code >= 500:
        # Nothing was promised: let the client retry with the same key.
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return
    data = getattr(response, "data", None)
    body = json.dumps(data, cls=JSONEncoder) if data is not None else ""
    headers = {h: response[h] for h in ("Location", "Content-Type") if response.has_header(h)}
    headers.pop("Content-Type", None)  # re-rendered on replay
    IdempotencyKey.objects.filter(pk=record.pk).update(
        response_status=response.status_code,
        response_body=body,
        response_headers=headers,
        lease_until=None,
    )


class IdempotencyMixin:
    """Honour `Idempotency-Key` on mutating methods. Runs after authentication and permission
    checks: a refused request never claims a key."""

    _idempotency_record: IdempotencyKey | None = None
    _idempotency_lease: _LeaseKeeper | None = None
    # The transaction of the action and its answer, and the savepoint of the action inside it.
    _idempotency_atomic: list[Any] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method not in MUTATING_METHODS:
            return
        # Parse the body now, so a malformed or too deeply nested one is a 400 even on actions
        # that read no body (approve, send), instead of being ignored while the action runs.
        request.data  # noqa: B018
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return
        key = key.strip()
        if not key or len(key) > 255 or not (key.isascii() and key.isprintable()):
            raise exceptions.ValidationError(
                {
                    IDEMPOTENCY_HEADER: [
                        "Must be 1 to 255 printable ASCII characters (a UUID is ideal)."
                    ]
                }
            )
        self._idempotency_record = idempotency_begin(user=request.user, key=key, request=request)
        self._idempotency_lease = _LeaseKeeper(self._idempotency_record.pk)
        # The action and its stored answer commit together (see the module docstring).
        self._idempotency_atomic = [transaction.atomic(), transaction.atomic()]
        for block in self._idempotency_atomic:
            block.__enter__()

    def _end_lease(self) -> None:
        lease, self._idempotency_lease = self._idempotency_lease, None
        if lease is not None:
            lease.end()

    def _leave_action(self, exc: BaseException | None) -> None:
        """Close the action's savepoint: kept, or rolled back when the action failed."""
        blocks = self._idempotency_atomic
        if blocks and len(blocks) == 2:
            action = blocks.pop()
            action.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    def _leave_transaction(self, exc: BaseException | None) -> None:
        """Commit the action with its answer, or roll both back on an exception."""
        self._leave_action(exc)
        blocks, self._idempotency_atomic = self._idempotency_atomic, None
        if blocks:
            blocks[0].__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    def handle_exception(self, exc: Exception) -> Any:
        self._leave_action(exc)  # the failed action's writes go; its error answer is stored
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        self._end_lease()
        self._leave_action(None)
        record, self._idempotency_record = self._idempotency_record, None
        if record is not None and not response.has_header("Idempotent-Replayed"):
            idempotency_finish(record, response)
        self._leave_transaction(None)
        return response

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except BaseException as exc:
            self._end_lease()
            self._leave_transaction(exc)
            record, self._idempotency_record = self._idempotency_record, None
            if record is not None:
                IdempotencyKey.objects.filter(pk=record.pk).delete()
            raise
