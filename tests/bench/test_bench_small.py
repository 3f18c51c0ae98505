"""`python -m bench --scale small` runs every benchmark and reports (issue 8). Never a time:
only that each benchmark ran both sides, and that candidate and baseline produced the same rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["import_harvest", "import_toggl", "import_clockify", "import_kimai", "import_tempo"]
NAMES = [
    "import",
    *SOURCES,
    "import_xlsx",
    "reconciliation",
    "invoice_run",
    "invoice_run_refresh",
    "pdf",
    "aging",
    "page_dashboard",
    "page_review",
    "page_aging",
    "page_invoices",
    "page_customers",
    "page_agreements",
    "page_entries",
    "page_history",
    "approval",
]
COMPARED = [
    "import",
    *SOURCES,
    "import_xlsx",
    "reconciliation",
    "invoice_run",
    "invoice_run_refresh",
    "aging",
    "approval",
]


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billable"))
    name = os.environ.get("TEST_DATABASE_NAME") or f"test_{url.path.lstrip('/')}"
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    # Its own throwaway database: the bench drops and re-creates the one it is given.
    env["DATABASE_URL"] = url._replace(path=f"/{name}_benchrun").geturl()
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench",
                "--scale",
                "small",
                "--reps",
                "1",
                "--output-dir",
                str(out),
                "--data-dir",
                str(out / "data"),
                # Step 7's real Celery workers: the tests' Redis (a queue of the run's own).
                "--broker",
                os.environ.get("BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        drop_database(env["DATABASE_URL"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "small.json").read_text()), (out / "small.md").read_text(), proc


def drop_database(url: str) -> None:
    import psycopg2
    from psycopg2 import sql

    from bench.db import parse

    p = parse(url)
    conn = psycopg2.connect(
        host=p["host"],
        port=p["port"],
        user=p["user"],
        password=p["password"] or None,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(p["dbname"]))
        )
    conn.close()


def test_report_describes_the_machine_and_the_data(small_results):
    results, _, _ = small_results
    assert results["scale"] == "small"
    assert results["reps"] == 1
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["memory_gb"] > 0
    assert machine["postgresql"][:2].isdigit()
    data = results["data"]
    assert (data["employees"], data["customers"], data["agreements"]) == (16, 20, 56)
    assert data["entries_loaded"] == data["time_entries"] > 3_000
    assert set(data["sha256"]) == {"agreements.csv", "time_entries.csv"}
    assert data["receivables"]["invoices"] == 400


def test_every_benchmark_ran_both_sides(small_results):
    results, _, _ = small_results
    benches = {b["name"]: b for b in results["benchmarks"]}
    assert list(benches) == NAMES
    for name, b in benches.items():
        for side in ("candidate", "baseline"):
            s = b[side]
            assert s["status"] == "ok", (name, side, s.get("error"))
            assert len(s["seconds"]) >= 1 and s["median_s"] > 0
            assert s["queries"] >= 0 and s["peak_rss_mb"] > 0
        assert b["ratio"] == pytest.approx(
            b["candidate"]["median_s"] / b["baseline"]["median_s"], rel=0.02
        )
    approval = benches["approval"]
    assert approval["approved"] == approval["pdfs_stored"] > 0 and approval["approved_per_s"] > 0
    for workers in (1, 2):
        assert approval[f"rendered_per_s_{workers}_worker"] > 0
        assert approval[f"weasyprint_per_s_{workers}_worker"] > 0
    for name in [n for n in NAMES if n.startswith("page_")]:
        for side in ("candidate", "baseline"):
            s = benches[name][side]
            assert s["requests"] == 10 and 0 < s["p50_ms"] <= s["p95_ms"]
    # Issue 19: each source's import against the billable-format import of the same rows.
    for name in [*SOURCES, "import_xlsx"]:
        assert benches[name]["rows"] == results["data"]["time_entries"]
        assert benches[name]["baseline"]["label"] == "time_entry_import, billable (SPEC 1.2) CSV"
        assert benches[name]["goal"] == (None if name == "import_xlsx" else 1.5)
    pdf = benches["pdf"]
    assert pdf["pages"] == 1 and pdf["big_invoice_lines"] == 200
    assert pdf["big_invoice_pages"] > 1 and pdf["ms_per_extra_page"] > 0


def test_candidates_produce_the_same_rows_as_the_hand_written_baselines(small_results):
    results, _, _ = small_results
    benches = {b["name"]: b for b in results["benchmarks"]}
    for name in COMPARED:
        assert benches[name]["same_result"] is True, (name, benches[name])
    assert benches["invoice_run"]["entries_billed"] > 0
    assert benches["reconciliation"]["open_flags_by_code"]["OVER_CAP"] > 0


def test_markdown_table_lists_each_benchmark(small_results):
    results, markdown, _ = small_results
    assert markdown.startswith("# Benchmarks, scale `small`")
    assert "| benchmark | candidate s | baseline s | ratio | goal |" in markdown
    for b in results["benchmarks"]:
        assert f"| {b['title']} |" in markdown
