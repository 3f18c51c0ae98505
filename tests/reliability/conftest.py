"""Reliability suite plumbing: how many trials to run, and the trials/violations summary.

Every test in tests/reliability asks for `trial_log` (a `TrialLog`), counts each trial with
`log.trial()`, records each broken promise with `log.violation("what went wrong")`, and ends with
`log.assert_clean()`, which fails the test on any violation. At the end of the session the counts
are printed in the terminal summary and merged into `var/reliability-summary.json`.

Trial counts: each test asks `trial_count(short, long)`.
  - default (`make test`): the short count;
  - `BILLABLE_LONG_TRIALS=1`: the long count;
  - `BILLABLE_TRIALS=N` or `--trials N` (the option exists when pytest is pointed at
    tests/reliability, e.g. `make pytest ARGS="tests/reliability --trials 200"`): exactly N.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SUMMARY_PATH = ROOT / "var" / "reliability-summary.json"

_RESULTS: dict[str, dict] = {}
_TRIALS_OPTION: list[int | None] = [None]


def pytest_addoption(parser):
    parser.addoption(
        "--trials",
        type=int,
        default=None,
        help="reliability suite: run exactly N trials in each trial-based test",
    )


def pytest_configure(config):
    try:
        _TRIALS_OPTION[0] = config.getoption("--trials")
    except ValueError:
        _TRIALS_OPTION[0] = None


def long_trials() -> bool:
    return os.environ.get("BILLABLE_LONG_TRIALS", "").strip().lower() in {"1", "yes", "true", "y"}


def trial_count(short: int, long: int) -> int:
    """Trials for this run: --trials / BILLABLE_TRIALS, else long or short (see module doc)."""
    if _TRIALS_OPTION[0]:
        return _TRIALS_OPTION[0]
    env = os.environ.get("BILLABLE_TRIALS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return long if long_trials() else short


@dataclass
class TrialLog:
    name: str
    trials: int = 0
    violations: list[str] = field(default_factory=list)
    notes: dict = field(default_factory=dict)

    def trial(self, n: int = 1) -> None:
        self.trials += n

    def violation(self, message: str) -> None:
        self.violations.append(f"trial {self.trials}: {message}")

    def check(self, condition: bool, message: str) -> bool:
        if not condition:
            self.violation(message)
        return condition

    def assert_clean(self) -> None:
        assert self.trials > 0, f"{self.name}: no trial ran"
        shown = "\n".join(self.violations[:20])
        assert not self.violations, (
            f"{self.name}: trials={self.trials} violations={len(self.violations)}\n{shown}"
        )


@pytest.fixture
def trial_log(request):
    log = TrialLog(name=request.node.name)
    yield log
    outcome = "passed"
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and not rep.passed:
        outcome = "failed" if rep.failed else "skipped"
    _RESULTS[request.node.nodeid] = {
        "test": request.node.nodeid,
        "trials": log.trials,
        "violations": len(log.violations),
        "outcome": outcome,
        "first_violations": log.violations[:5],
        "notes": log.notes,
        "long": long_trials() or bool(_TRIALS_OPTION[0] or os.environ.get("BILLABLE_TRIALS")),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call = rep
    return rep


def pytest_sessionfinish(session, exitstatus):
    if not _RESULTS:
        return
    SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
    merged: dict[str, dict] = {}
    try:
        merged = json.loads(SUMMARY_PATH.read_text())
    except (OSError, ValueError):
        merged = {}
    if not isinstance(merged, dict):
        merged = {}
    merged.update(_RESULTS)
    tmp = SUMMARY_PATH.with_suffix(".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True))
    tmp.replace(SUMMARY_PATH)


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section("reliability trials")
    for nodeid, r in sorted(_RESULTS.items()):
        terminalreporter.write_line(
            f"{nodeid.split('::')[-1]:<58} trials={r['trials']:<5} violations={r['violations']}"
            f"  [{r['outcome']}]"
        )
    terminalreporter.write_line(f"(summary: {SUMMARY_PATH.relative_to(ROOT)})")
