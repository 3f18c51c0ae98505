"""What every bench step shares: the scale's settings, the context, logging, SQL, results."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/billable_bench"
REPS = {"small": 3, "firm": 3, "xl": 1}
PAGE_REQUESTS = {"small": 10, "firm": 40, "xl": 40}
# Lines of the many-page invoice whose extra pages are timed (issue 8: 1,000 at firm scale).
# Time box for one candidate's timed rounds (see harness.run_pair).
CANDIDATE_BUDGET_S = {"small": None, "firm": 600, "xl": 1800}
BIG_INVOICE_LINES = {"small": 200, "firm": 1000, "xl": 1000}
# Step 7 approves the month's drafts (225 at firm); at xl (about 2,250) rendering them all would
# take over an hour at 0.3-0.5 PDFs/s on 2 cores, so it approves the first 450 by id: the rates
# it reports are per second and per worker, which the draft count does not change.
APPROVAL_DRAFTS = {"small": None, "firm": None, "xl": 450}
GOALS = {
    "import": 3.0,
    "reconciliation": 1.5,
    "invoice_run": 3.0,  # issue 16: the run less the flag refresh it starts with
    "invoice_run_refresh": 1.5,  # the refresh is a reconciliation: the same goal
    "pdf": 2.0,
    "aging": 2.0,
}
# Issue 19: each CSV source's import within 1.5x of the billable-format import; XLSX no goal.
SOURCE_GOAL = 1.5
GOALS.update(
    {f"import_{s}": SOURCE_GOAL for s in ("harvest", "toggl", "clockify", "kimai", "tempo")}
)
TITLES = {
    "import": "1. Time-entry CSV import",
    "import_harvest": "1b. Time-entry import, Harvest layout",
    "import_toggl": "1c. Time-entry import, Toggl layout",
    "import_clockify": "1d. Time-entry import, Clockify layout",
    "import_kimai": "1e. Time-entry import, Kimai layout",
    "import_tempo": "1f. Time-entry import, Tempo layout",
    "import_xlsx": "1g. Time-entry import, XLSX (reported separately)",
    "reconciliation": "2. Reconciliation of all entries",
    "partitioning": "2b-2d. Time entries partitioned by month (rolled back)",
    "partitioning_import": "2b. Entries partitioned by month: time-entry import of a small file",
    "partitioning_reconciliation": "2c. Entries partitioned by month: reconciliation",
    "partitioning_invoice_run": "2d. Entries partitioned by month: invoice run (with its refresh)",
    "invoice_run": "3. Invoice run for one month (no PDF), less its flag refresh",
    "invoice_run_refresh": "3b. The flag refresh the invoice run starts with (SPEC 3)",
    "pdf": "4. PDF of a 1-page invoice (warm process)",
    "aging": "5. AR aging as of a date",
    "page_dashboard": "6a. Exception dashboard page",
    "page_review": "6b. Invoice review page",
    "page_aging": "6c. AR aging page",
    "page_invoices": "6d. Invoices list page",
    "page_customers": "6e. Customers list page",
    "page_agreements": "6f. Agreements list page",
    "page_entries": "6g. Time-entry browser",
    "page_history": "6h. History page",
    "approval": "7. Batch approval + final PDFs (per invoice, 1 and 2 workers)",
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Context:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)
        self.data: dict[str, Any] = {}
        self.recon_steady_s: float | None = None

    @property
    def as_of(self) -> dt.date:
        from bench.fixtures import END

        return END + dt.timedelta(days=1)


def sql(statement: str, params: Any = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []


def failed(name: str, exc: Exception) -> dict[str, Any]:
    return {
        "name": name,
        "title": TITLES.get(name, name),
        "status": "error",
        "error": f"{type(exc).__name__}: {str(exc)[:500]}",
        "candidate": None,
        "baseline": None,
        "ratio": None,
        "goal": GOALS.get(name),
        "meets_goal": None,
        "same_result": None,
        "rows": None,
    }


def bench_result(
    name: str, rows: int | None, cand, base, *, same: bool | None, notes: str = "", **extra: Any
) -> dict[str, Any]:
    c, b = cand.median, base.median
    ratio = round(c / b, 2) if c and b else None
    goal = GOALS.get(name)
    out = {
        "name": name,
        "title": TITLES.get(name, name),
        "status": "ok" if ratio else cand.status,
        "rows": rows,
        "candidate": cand.as_dict(rows),
        "baseline": base.as_dict(rows),
        "ratio": ratio,
        "goal": goal,
        "meets_goal": (ratio <= goal) if (ratio is not None and goal is not None) else None,
        "same_result": same,
        "notes": notes,
    }
    out.update(extra)
    return out


def unavailable(side, exc: Exception) -> None:
    side.status = "not available"
    side.error = f"{type(exc).__name__}: {exc}"
    log(f"  candidate not available: {side.error}")
