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
PARTITIONING = ["partitioning_import", "partitioning_reconciliation", "partitioning_invoice_run"]
NAMES = [
    "import",
    *SOURCES,
    "import_xlsx",
    "reconciliation",
    *PARTITIONING,
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
    *PARTITIONING,
    "invoice_run",
    "invoice_run_refresh",
    "aging",
    "approval",
]


@pytest.fixture(scope="module")
def bench_env():
    """The bench's environment, on its own throwaway database (dropped at the end): the bench
    drops and re-creates the one it is given."""
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/billable"))
    name = os.environ.get("TEST_DATABASE_NAME") or f"test_{url.path.lstrip('/')}"
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["DATABASE_URL"] = url._replace(path=f"/{name}_benchrun").geturl()
    try:
        yield env
    finally:
        drop_database(env["DATABASE_URL"])


def run_bench(env: dict[str, str], out: Path, *args: str) -> tuple[dict, str]:
    """`python -m bench --scale small --reps 1 ...`: (results, markdown) it wrote to `out`."""
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
            str(out.parent / "data"),
            # Step 7's real Celery workers: the tests' Redis (a queue of the run's own).
            "--broker",
            os.environ.get("BILLABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((out / "small.json").read_text()), (out / "small.md").read_text()


@pytest.fixture(scope="module")
def small_results(bench_env, tmp_path_factory):
    return run_bench(bench_env, tmp_path_factory.mktemp("bench") / "all")


@pytest.fixture(scope="module")
def reruns(bench_env, small_results, tmp_path_factory):
    """Steps run again with --reuse-db on the database the whole run left: the invoice run then
    the AR aging (the run's reset removes every invoice but leaves the payments), then the
    partitioning check a second time and the aging a second time in a row."""
    out = tmp_path_factory.mktemp("rerun")
    first, _ = run_bench(bench_env, out / "one", "--reuse-db", "--only", "invoice_run,aging")
    second, _ = run_bench(bench_env, out / "two", "--reuse-db", "--only", "aging,partitioning")
    return first, second


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
    results, _ = small_results
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
    results, _ = small_results
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
    results, _ = small_results
    benches = {b["name"]: b for b in results["benchmarks"]}
    for name in COMPARED:
        assert benches[name]["same_result"] is True, (name, benches[name])
    assert benches["invoice_run"]["entries_billed"] > 0
    assert benches["reconciliation"]["open_flags_by_code"]["OVER_CAP"] > 0


def test_markdown_table_lists_each_benchmark(small_results):
    results, markdown = small_results
    assert markdown.startswith("# Benchmarks, scale `small`")
    assert "| benchmark | candidate s | baseline s | ratio | goal |" in markdown
    for b in results["benchmarks"]:
        assert f"| {b['title']} |" in markdown


def test_partitioned_entries_keep_the_import_reconciliation_and_invoice_run_results(small_results):
    """Issue 16: the real code on a copy of the entries partitioned by month gives what it gives
    on the plain table (same_result above); here, that it ran on what it says it ran on."""
    results, _ = small_results
    benches = {b["name"]: b for b in results["benchmarks"]}
    made = results["data"]["partitioning"]
    assert made["foreign_keys_dropped"] == [
        "invoicing_entrybilling.entry_id",
        "timesheets_flag.entry_id",
    ]
    assert made["keys"] == ["PRIMARY KEY (id, date)", "UNIQUE (external_id, date)"]
    assert made["partitions"] == 7 and made["months"] == ["2026-01", "2026-06"]
    # The unique key with the date lets a second entry with an Entry ID in on another date.
    assert made["same_entry_id_other_date"] == {"plain": "refused", "partitioned": "accepted"}
    file = made["import_file"]
    assert file == {"rows": 220, "hours_changed": 20, "moved_month": 40, "new": 20}
    for name in PARTITIONING:
        assert benches[name]["relkind"] == {"plain": "r", "partitioned": "p"}
        assert benches[name]["plain_result"] == benches[name]["partitioned_result"]
    imported = benches["partitioning_import"]["partitioned_result"]
    assert (imported["created"], imported["updated"], imported["unchanged"]) == (20, 60, 140)
    assert imported["history_rows"] == 80
    assert imported["entries_after"] == results["data"]["time_entries"] + 20
    billed = benches["partitioning_invoice_run"]["partitioned_result"]
    assert billed["entries_billed"] == benches["invoice_run"]["entries_billed"] > 0
    assert billed["invoices"] == benches["invoice_run"]["invoices"]
    recon = benches["partitioning_reconciliation"]["partitioned_result"]
    assert recon["open_flags"] == sum(benches["reconciliation"]["open_flags_by_code"].values())


def test_steps_run_again_on_the_database_a_run_left(small_results, reruns):
    """--reuse-db: the AR aging reloads the receivables history after the invoice run's reset
    and after an earlier load; the partitioning check leaves the database as it was."""
    results, _ = small_results
    keys = ("invoices", "payments", "allocations", "credit_notes", "report_rows", "report_sha256")

    def aging(run: dict) -> dict:
        (bench,) = [b for b in run["benchmarks"] if b["name"] == "aging"]
        assert bench["same_result"] is True, bench
        return {k: bench[k] for k in keys}

    first, second = reruns
    assert aging(first) == aging(second) == aging(results)
    assert aging(results)["report_rows"] > 0
    assert [b["name"] for b in second["benchmarks"]] == [*PARTITIONING, "aging"]
    for bench in second["benchmarks"]:
        assert bench["same_result"] is True, bench
