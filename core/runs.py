"""The run/job base shared by invoice runs and reconciliation runs: one lifecycle, one recovery.

A run row is the truth about a background job; the broker message only carries its id.

    queued --claim--> running --finish--> done
                         |  \\--fail----> failed --claim (retry)--> running
                         \\--(heartbeat older than RUN_STALE_SECONDS)--requeue--> queued

- `run_claim` moves a run to `running` atomically (compare-and-set), so only one worker works a
  run at a time: a second delivery of its message while the first worker is alive (its heartbeat
  is fresh) is refused, and the task retries later.
- While running, the worker refreshes `heartbeat_at` at every step and from a background thread
  every RUN_HEARTBEAT_SECONDS (`heartbeat()`), so a long step still beats.
- The stale-run sweep (invoicing/recovery.py, beat every 30 s) `run_requeue`s a running run whose
  heartbeat is older than RUN_STALE_SECONDS (its worker died, machine and all) and sends its task
  again: the run is resumed within RUN_STALE_SECONDS + the sweep interval, not after the broker's
  one-hour visibility timeout. The run's work is idempotent, so resuming never bills twice.
- `active_run` is the dedupe of "run now": a queued run, or a running one whose worker is alive.

Core imports no app: the helpers take the concrete model class.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Self, TypeVar

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

# A queued run younger than this is reused by "run now" (its message may still be on its way).
QUEUED_REUSE_WINDOW = dt.timedelta(minutes=30)


def stale_after() -> dt.timedelta:
    """A running run whose heartbeat is older than this has lost its worker."""
    return dt.timedelta(seconds=getattr(settings, "RUN_STALE_SECONDS", 60))


def heartbeat_every() -> int:
    """Whole seconds between two heartbeats of a running run (well under stale_after)."""
    return int(getattr(settings, "RUN_HEARTBEAT_SECONDS", 15))


class RunBusy(Exception):
    """The run is done, or another worker with a live heartbeat holds it."""


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunBase(models.Model):
    """Status, who started it, when, the last sign of life of its worker, and its error."""

    Status = RunStatus

    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the worker running it (or when it was re-queued).",
    )

    # Every concrete run model gets Django's default `objects`; the stubs give none to an
    # abstract model, so the helpers below, which take the concrete class, declare it here.
    objects: ClassVar[models.Manager[Self]]

    class Meta:
        abstract = True
        ordering = ["-created_at"]


R = TypeVar("R", bound=RunBase)


def _last_sign_of_life() -> Coalesce:
    return Coalesce("heartbeat_at", "started_at", "created_at")


def run_claim(model: type[R], pk: int, **reset: Any) -> bool:
    """Take run `pk` for this worker: True when it is now ours (status running, heartbeat now).

    Claimable: queued, failed (a retry), or running with a stale heartbeat (its worker died).
    A done run, or one another live worker holds, is not. `reset` sets progress fields."""
    now = timezone.now()
    claimable = Q(status__in=[RunStatus.QUEUED, RunStatus.FAILED]) | Q(
        status=RunStatus.RUNNING, sign__lt=now - stale_after()
    )
    updated = (
        model.objects.filter(pk=pk)
        .annotate(sign=_last_sign_of_life())
        .filter(claimable)
        .update(
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            error="",
            **reset,
        )
    )
    return bool(updated)


def run_beat(model: type[RunBase], pk: int, **progress: Any) -> None:
    """Record a sign of life (and progress fields) of running run `pk`."""
    model.objects.filter(pk=pk, status=RunStatus.RUNNING).update(
        heartbeat_at=timezone.now(), **progress
    )


def run_finish(model: type[RunBase], pk: int, **fields: Any) -> None:
    model.objects.filter(pk=pk).update(
        status=RunStatus.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now(), **fields
    )


def run_fail(model: type[RunBase], pk: int, error: BaseException | str) -> None:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    model.objects.filter(pk=pk).update(
        status=RunStatus.FAILED, error=text[:2000], finished_at=timezone.now()
    )


def dead_runs(model: type[R], now: dt.datetime | None = None) -> models.QuerySet[R]:
    """Running runs whose worker has given no sign of life for longer than stale_after()."""
    now = now or timezone.now()
    # The plugin types annotate() on a type[R] as on R's bound (RunBase): the rows are R.
    return (
        model.objects.filter(status=RunStatus.RUNNING)  # type: ignore[return-value]
        .annotate(sign=_last_sign_of_life())
        .filter(sign__lt=now - stale_after())
    )


def run_requeue(model: type[RunBase], pk: int) -> bool:
    """Put a dead run back to queued (compare-and-set: one sweep wins); True when this call did.
    The caller then sends its task again."""
    now = timezone.now()
    updated = (
        model.objects.filter(pk=pk, status=RunStatus.RUNNING)
        .annotate(sign=_last_sign_of_life())
        .filter(sign__lt=now - stale_after())
        .update(status=RunStatus.QUEUED, heartbeat_at=now)
    )
    return bool(updated)


def lost_queued(model: type[R], queued_for: dt.timedelta) -> models.QuerySet[R]:
    """Runs queued (or re-queued) longer than `queued_for` ago: their message may be lost."""
    cutoff = timezone.now() - queued_for
    # The plugin types annotate() on a type[R] as on R's bound (RunBase): the rows are R.
    return (
        model.objects.filter(status=RunStatus.QUEUED)  # type: ignore[return-value]
        .annotate(queued_since=Coalesce("heartbeat_at", "created_at"))
        .filter(queued_since__lt=cutoff)
    )


def active_run(queryset: models.QuerySet[R]) -> R | None:
    """The run of `queryset` that "run now" should reuse: queued recently, or running with a
    live worker. Call inside a transaction holding the start lock of its kind."""
    now = timezone.now()
    return (
        queryset.annotate(sign=_last_sign_of_life())
        .filter(
            Q(status=RunStatus.QUEUED, created_at__gte=now - QUEUED_REUSE_WINDOW)
            | Q(status=RunStatus.QUEUED, heartbeat_at__gte=now - QUEUED_REUSE_WINDOW)
            | Q(status=RunStatus.RUNNING, sign__gte=now - stale_after())
        )
        .order_by("-created_at")
        .first()
    )


@contextmanager
def heartbeat(model: type[RunBase], pk: int) -> Iterator[None]:
    """Beat for run `pk` from a background thread while the block runs, so a step longer than
    the stale limit does not look dead. The thread dies with the process: a killed worker stops
    beating, which is the point. Skipped inside an outer transaction (tests), where the thread's
    own connection could wait on the caller's row lock."""
    if connection.in_atomic_block:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(heartbeat_every()):
                run_beat(model, pk)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
