"""1b. The time-entry import through each source (issue 19 "Speed"): the bench's entries file
written in each tracker's layout (``bench.source_files``) and imported with its ``--source``,
against the billable-format import of the same rows in the same run (goal: within 1.5x). The
XLSX row (the same SPEC 1.2 rows in a workbook, read with openpyxl read-only) has no goal: it is
reported separately.

The billable-format import is measured before and after the sources (its samples from both are
the baseline), and its last round leaves the database as step 1 did (the file's entries, for the
steps after it). ``--sources`` picks some (default: every one). Converted files are written once
per entries file into ``<data dir>/sources/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import Context, bench_result, log, sql
from bench.steps.imports import ENTRY_TABLES, vacuum

XLSX = "xlsx"


def _import(path: Path, source: str) -> Any:
    from bench import harness, source_files
    from core.reading import ReadOptions
    from timesheets.importing import time_entry_import

    options = ReadOptions(source=source, **source_files.OPTIONS.get(source, {}))
    sample, result = harness.measure(lambda: time_entry_import(file=path, options=options))
    if result.errors:
        raise RuntimeError(f"{source} import rejected: " + "; ".join(map(str, result.errors[:5])))
    if result.source != source:
        raise RuntimeError(f"read as {result.source!r}, not {source!r}")
    return sample, result


def _files(ctx: Context, name: str) -> tuple[Path, Path]:
    """(the whole file, the warm-up file) in ``name``'s layout, in ``<data dir>/sources/``,
    written once per entries file (its SHA-256 is in the name)."""
    from bench import source_files

    folder = ctx.tmp / "sources"
    folder.mkdir(exist_ok=True)
    digest = ctx.files.sha256[ctx.files.entries.name][:12]
    out: list[Path] = []
    for src in (ctx.files.entries, ctx.files.warmup_entries):
        path = folder / f"{src.stem}.{digest}.{name}.{'xlsx' if name == XLSX else 'csv'}"
        if not path.exists():
            log(f"  writing {path.name}")
            tmp = path.with_name(path.name + ".part")
            if name == XLSX:
                source_files.write_xlsx(src, tmp)
            else:
                source_files.write_source_file(src, name, tmp)
            tmp.replace(path)
        out.append(path)
    return out[0], out[1]


def chosen(ctx: Context) -> list[str]:
    from bench import source_files

    every = [*source_files.SOURCES, XLSX]
    picked = [s.strip() for s in (getattr(ctx.args, "sources", "") or "").split(",") if s.strip()]
    unknown = set(picked) - set(every)
    if unknown:
        raise ValueError(f"unknown --sources {sorted(unknown)}; choose from {every}")
    return picked or every


def case_import_sources(ctx: Context):
    from bench import harness, source_files

    def reset() -> None:
        sql(f"TRUNCATE {ENTRY_TABLES} RESTART IDENTITY CASCADE")

    names = chosen(ctx)
    sides: dict[str, harness.Side] = {}
    prints: dict[str, Any] = {}
    paths: dict[str, tuple[Path, Path]] = {n: _files(ctx, n) for n in names}

    def rounds(name: str, reps: int, warm_up: bool = True) -> None:
        label = "billable (SPEC 1.2) CSV" if name == "billable" else f"--source {name}"
        side = sides.setdefault(name, harness.Side(f"time_entry_import, {label}"))
        whole, warm, source = ctx.files.entries, ctx.files.warmup_entries, "billable"
        if name != "billable":
            (whole, warm), source = paths[name], ("billable" if name == XLSX else name)
        try:
            log(f"  {label}: {'warm-up, then ' if warm_up else ''}{reps} round(s)")
            if warm_up:
                reset()
                _import(warm, source)
            for _ in range(reps):
                reset()
                sample, _result = _import(whole, source)
                side.samples.append(sample)
                log(f"    {name}: {sample.seconds:.2f} s, peak {sample.peak_rss_mb} MB")
            prints[name] = sql(source_files.SAME_ROWS)[0]
        except Exception as exc:  # noqa: BLE001 - one broken source must not hide the others
            side.status, side.error = "error", f"{type(exc).__name__}: {str(exc)[:500]}"
            log(f"    error: {side.error}")

    # The billable-format import before and after the sources (a shared machine's load changes
    # during a long run); the last round leaves the file's entries for the steps after this one.
    rounds("billable", ctx.reps)
    for name in names:
        rounds(name, ctx.reps)
    rounds("billable", 1, warm_up=False)
    vacuum()
    base = sides["billable"]
    for name in names:
        path = paths[name][0]
        yield bench_result(
            f"import_{name}",
            ctx.files.entry_count,
            sides[name],
            base,
            same=(prints[name] == prints["billable"])
            if name in prints and "billable" in prints
            else None,
            notes="baseline = the billable-format import of the same rows in the same run; "
            "same_result compares count and every entry's date, project, billable flag and "
            "minutes (bench.source_files.SAME_ROWS)."
            + (" XLSX: reported separately, no goal." if name == XLSX else ""),
            file_mb=round(path.stat().st_size / 1e6, 1),
        )
