"""Setup: the agreements, through the real agreement import."""

from __future__ import annotations

from typing import Any

from bench.common import (
    Context,
    log,
)

# -- setup ---------------------------------------------------------------------------------------


def setup_agreements(ctx: Context, results: dict[str, Any]) -> None:
    from bench import harness

    try:
        from agreements.services import agreement_import
    except ImportError as exc:
        results["setup"]["agreement_import"] = {"status": "not available", "error": str(exc)}
        log(f"agreement import not available: {exc}")
        return
    sample, result = harness.measure(lambda: agreement_import(file=ctx.files.agreements))
    if result.errors:
        raise SystemExit("agreements rejected:\n" + "\n".join(map(str, result.errors[:20])))
    results["setup"]["agreement_import"] = {
        "seconds": round(sample.seconds, 3),
        "created": result.created,
        "queries": sample.queries,
        "peak_rss_mb": sample.peak_rss_mb,
    }
    log(f"  agreements imported in {sample.seconds:.2f} s")
