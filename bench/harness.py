"""Timing, memory and query counting for one side of a benchmark, and the pair loop.

Each measurement records wall seconds (perf_counter), the queries the process sent through
Django's connection (COPY streams and psql children are not queries of this process: a psql child
is counted as what it ran), and peak resident memory: the process's VmHWM after resetting it with
/proc/self/clear_refs (Linux), or the child's ru_maxrss for a psql baseline.
"""

from __future__ import annotations

import gc
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection


@dataclass
class Sample:
    seconds: float
    queries: int
    peak_rss_mb: float


@dataclass
class Side:
    """One side (candidate or baseline) of a benchmark: its samples and status."""

    label: str
    status: str = "ok"  # ok | not available | error
    error: str = ""
    samples: list[Sample] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float | None:
        return statistics.median(s.seconds for s in self.samples) if self.samples else None

    def as_dict(self, rows: int | None) -> dict[str, Any]:
        med = self.median
        out: dict[str, Any] = {
            "label": self.label,
            "status": self.status,
            # Microseconds: the small scale's millisecond timings keep their ratio when recomputed.
            "seconds": [round(s.seconds, 6) for s in self.samples],
            "median_s": round(med, 6) if med is not None else None,
            "rows_per_s": round(rows / med) if rows and med else None,
            "queries": self.samples[-1].queries if self.samples else None,
            "peak_rss_mb": max((s.peak_rss_mb for s in self.samples), default=None),
        }
        if self.error:
            out["error"] = self.error
        out.update(self.extra)
        return out


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    try:
        text = open("/proc/self/status").read()
        kb = int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError):
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(fn: Callable[[], Any]) -> tuple[Sample, Any]:
    """Run fn once in this process; returns its sample and its return value."""
    gc.collect()
    _reset_peak()
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
    return Sample(seconds, counter.count, _peak_mb()), value


def measure_process(
    argv: list[str], *, env: dict[str, str] | None = None, statements: int = 0
) -> Sample:
    """Run a child process (psql); its wall time and its own peak memory (ru_maxrss)."""
    import tempfile

    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, rusage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            out.seek(0)
            raise RuntimeError(out.read().decode(errors="replace")[-2000:])
    return Sample(seconds, statements, round(rusage.ru_maxrss / 1024, 1))


def error_text(exc: Exception, limit: int = 500) -> str:
    return f"{type(exc).__name__}: {str(exc)[:limit]}"


def warm_up_and_pair(
    *,
    reps: int,
    candidate: Side,
    baseline: Side,
    run_candidate: Callable[[], Sample] | None,
    run_baseline: Callable[[], Sample],
    log: Callable[[str], None],
    reset: Callable[[], None] | None = None,
    warm_candidate: Callable[[], Any] | None = None,
    warm_baseline: Callable[[], Any] | None = None,
    candidate_budget_s: float | None = None,
    note: str | None = "warm-up",
) -> Any:
    """What every step does: warm both sides up once, then `run_pair`.

    Each warm-up starts from `reset()`, baseline first, like a timed round; `warm_baseline` and
    `warm_candidate` default to the timed runs (a step warms up on a smaller input by passing its
    own). A candidate whose warm-up fails is recorded as an error and not timed. Returns what the
    candidate's warm-up returned (None if it did not run or failed).
    """
    reset = reset or (lambda: None)
    if note:
        log(f"  {note}")
    reset()
    (warm_baseline or run_baseline)()
    warm = None
    if run_candidate is not None:
        reset()
        try:
            warm = (warm_candidate or run_candidate)()
        except Exception as exc:  # noqa: BLE001 - recorded in the results, not hidden
            candidate.status, candidate.error = "error", error_text(exc)
    run_pair(
        reps=reps,
        candidate=candidate,
        baseline=baseline,
        run_candidate=run_candidate,
        run_baseline=run_baseline,
        reset=reset,
        log=log,
        candidate_budget_s=candidate_budget_s,
    )
    return warm


def run_pair(
    *,
    reps: int,
    candidate: Side,
    baseline: Side,
    run_candidate: Callable[[], Sample] | None,
    run_baseline: Callable[[], Sample],
    reset: Callable[[], None],
    log: Callable[[str], None],
    candidate_budget_s: float | None = None,
) -> None:
    """Alternate baseline and candidate `reps` times, resetting the state before each run.

    Baseline first in every round, so the candidate's state is what is left at the end. A failing
    candidate is recorded as an error and not run again; the baseline still runs every round.
    With `candidate_budget_s`, rounds stop early (after at least one) when another candidate run
    would take its total past the budget, so one slow candidate cannot stretch the whole bench
    past its time box; `rounds` records how many ran.
    """
    done = 0
    for rep in range(reps):
        active = run_candidate is not None and candidate.status == "ok"
        if active and candidate_budget_s and candidate.samples:
            spent = sum(s.seconds for s in candidate.samples)
            if spent + max(s.seconds for s in candidate.samples) > candidate_budget_s:
                log(f"    time box of {candidate_budget_s:.0f} s reached after {done} round(s)")
                candidate.extra["rounds_cut_by_time_box"] = True
                break
        reset()
        sample = run_baseline()
        baseline.samples.append(sample)
        log(f"    round {rep + 1}/{reps}: baseline {sample.seconds:.3f} s")
        done += 1
        if not active:
            continue
        reset()
        try:
            sample = run_candidate()
        except Exception as exc:  # noqa: BLE001 - recorded in the results, not hidden
            candidate.status, candidate.error = "error", error_text(exc)
            log(f"    candidate failed: {candidate.error}")
            continue
        candidate.samples.append(sample)
        log(f"    round {rep + 1}/{reps}: candidate {sample.seconds:.3f} s")


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        info["postgresql"] = cur.fetchone()[0]
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather"):
            cur.execute(f"SHOW {name}")
            info[f"pg_{name}"] = cur.fetchone()[0]
    return info
