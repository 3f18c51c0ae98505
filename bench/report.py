"""The results files: bench/results/<scale>.json and its markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value}{unit}"


def markdown(results: dict[str, Any]) -> str:
    lines = _header(results)
    lines += [_row(b) for b in results["benchmarks"]]
    lines += ["", "Details:", ""]
    lines += [_details(b) for b in results["benchmarks"]]
    lines.append("")
    lines.append(f"Total bench time: {results['total_seconds']} s.")
    if results.get("complete") is False:
        lines.append("")
        lines.append(
            "**Partial**: the run was stopped before its last step; the rows above are the steps "
            "it finished."
        )
    return "\n".join(lines) + "\n"


def _header(results: dict[str, Any]) -> list[str]:
    m = results["machine"]
    d = results["data"]
    return [
        f"# Benchmarks, scale `{results['scale']}`",
        "",
        f"Measured {results['generated_at']} on {m.get('cores')} cores ({m.get('cpu', '?')}), "
        f"{m.get('memory_gb')} GB RAM, PostgreSQL {m.get('postgresql')}, Python {m.get('python')}. "
        f"{results['reps']} alternating rounds after a warm-up; medians.",
        "",
        f"Data: {d['employees']} employees, {d['customers']} customers, {d['agreements']} "
        f"agreements, {d['time_entries']} time entries"
        + (f", {d['receivables']['invoices']} invoices" if "receivables" in d else "")
        + f" (seed {d['seed']}, time up to {d['end']}).",
        "",
        "| benchmark | candidate s | baseline s | ratio | goal | rows/s | queries | peak MB | same result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]


def _row(b: dict[str, Any]) -> str:
    """A benchmark's line of the table."""
    c, base = b.get("candidate") or {}, b.get("baseline") or {}
    if b["name"].startswith("page"):
        cs = f"p50 {_fmt(c.get('p50_ms'), ' ms')} / p95 {_fmt(c.get('p95_ms'), ' ms')}"
        bs = f"p50 {_fmt(base.get('p50_ms'), ' ms')} / p95 {_fmt(base.get('p95_ms'), ' ms')}"
    else:
        cs, bs = _fmt(c.get("median_s")), _fmt(base.get("median_s"))
    if c.get("status") not in (None, "ok"):
        cs = f"{c['status']}"
    ratio = _fmt(b.get("ratio"), "x")
    same = {True: "yes", False: "NO", None: "—"}[b.get("same_result")]
    return (
        f"| {b['title']} | {cs} | {bs} | {ratio} | {_fmt(b.get('goal'), 'x')} | "
        f"{_fmt(c.get('rows_per_s'))} | {_fmt(c.get('queries'))} vs {_fmt(base.get('queries'))} | "
        f"{_fmt(c.get('peak_rss_mb'))} vs {_fmt(base.get('peak_rss_mb'))} | {same} |"
    )


# In the table, not among a benchmark's details.
_TABLE_KEYS = {
    "name",
    "title",
    "candidate",
    "baseline",
    "ratio",
    "goal",
    "rows",
    "same_result",
    "status",
    "meets_goal",
}
# A side's figures that go into the details.
_SIDE_DETAILS = ("rerun_no_change_s", "copy_only_median_s", "rounds_cut_by_time_box", "warmup_s")


def _details(b: dict[str, Any]) -> str:
    """A benchmark's line of details: what the table has no column for."""
    detail = {k: v for k, v in b.items() if k not in _TABLE_KEYS and v not in (None, "", [], {})}
    c = b.get("candidate") or {}
    if c.get("error"):
        detail["candidate_error"] = c["error"]
    for side in ("candidate", "baseline"):
        detail.update({k: v for k, v in (b.get(side) or {}).items() if k in _SIDE_DETAILS})
    return (
        f"- **{b['title']}**: candidate = {c.get('label', '—')}; baseline = "
        f"{(b.get('baseline') or {}).get('label', '—')}. "
        + "; ".join(f"{k}: {v}" for k, v in detail.items())
    )


def write_results(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = results["scale"]
    tmp = out_dir / f"{scale}.json.tmp"
    tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
    tmp.replace(out_dir / f"{scale}.json")
    (out_dir / f"{scale}.md").write_text(markdown(results))
