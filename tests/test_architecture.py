"""The layering holds: no package imports a downstream one, no module-level import cycle, and
the committed picture in docs/ is the one the source gives (scripts/import_graph.py)."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
assert spec is not None and spec.loader is not None
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_no_upward_import_and_no_import_cycle():
    _, upward, cycles = import_graph.graph()
    assert upward == []
    assert cycles == []


def test_foundation_imports_no_app():
    edges, _, _ = import_graph.graph()
    assert sorted(dst for src, dst in edges if src == "core") == []


def test_committed_picture_is_current():
    edges, _, _ = import_graph.graph()
    picture = import_graph.mermaid(edges)
    assert import_graph.OUTPUT.read_text(encoding="utf-8") == picture
    doc = import_graph.DOC.read_text(encoding="utf-8")
    assert import_graph.embedded(doc, picture) == doc


def test_a_cycle_is_found():
    assert import_graph._cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


# Modules past ~600 lines become packages (STYLE.md). The ones not split yet, each with the
# ceiling it may not pass; the list only shrinks: an entry whose module is back under 600 lines
# (or gone) fails the test until it is removed.
LONG_MODULES: dict[str, int] = {}


def _source_files() -> list[Path]:
    files = []
    for package in import_graph.LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                files.append(path)
    return files


def test_no_module_over_600_lines_but_the_named_ones():
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in _source_files()
    }
    over = {name: n for name, n in sizes.items() if n > 600}
    assert sorted(over) == sorted(LONG_MODULES), "split the module, or drop it from LONG_MODULES"
    for name, n in over.items():
        assert n <= LONG_MODULES[name], f"{name} grew to {n} lines"


# No function over ~60 lines in any module of the app packages (import_graph.LAYERS, migrations
# excluded). No exceptions.
def test_the_function_length_check_reads_every_app_module():
    names = {str(p.relative_to(ROOT)) for p in _source_files()}
    for name in (
        "invoicing/generation.py",
        "agreements/services.py",
        "invoicing/selectors/batch.py",
        "timesheets/reconciliation/apply.py",
        "agreements/pricing.py",
        "receivables/settlement.py",
        "invoicing/views.py",
        "core/api/errors.py",
        "core/reading/files.py",
        "demo/generator/plan.py",
        "billing_site/settings.py",
        "bench/run.py",
    ):
        assert name in names
    assert not [n for n in names if "/migrations/" in n]


def test_no_function_over_60_lines_in_any_app_module():
    long = []
    for path in _source_files():
        name = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 60:
                    long.append(f"{name}:{node.lineno} {node.name} ({n} lines)")
    assert long == [], "split these into named steps"


def _downstream_lookups(label: str) -> set[str]:
    """The names by which app `label`'s models reach a downstream app's table in a lookup."""
    from django.apps import apps

    rank = {name: i for i, name in enumerate(import_graph.LAYERS)}
    names = set()
    for model in apps.get_app_config(label).get_models():
        for rel in model._meta.related_objects:
            owner = rel.related_model._meta.app_label
            name = rel.field.related_query_name()
            if rank.get(owner, -1) > rank[label] and not name.endswith("+"):
                names.add(name)
    return names


def test_upstream_apps_read_no_downstream_table_through_lookup_strings():
    # A downstream rule reaches upstream through a core seam (core/settlement.py,
    # core/entry_billing.py, core/milestone_billing.py), never as `billing__...` or "billing".
    found = []
    for label in ("agreements", "timesheets", "invoicing", "receivables"):
        names = "|".join(sorted(_downstream_lookups(label)))
        assert names, f"{label}: no downstream relation found, the check would check nothing"
        pattern = re.compile(rf"\b({names})__\w|[\"']({names})[\"']")
        for path in sorted((ROOT / label).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


# The `duplicates` command (a tool of the machine the project is developed on, not a dependency:
# where it is not installed this test is skipped). Pairs sharing more than 10 lines of the same
# shape count unless both places are in migrations or tests: a test that copies the code it tests
# counts. URL confs count too (grouped by resource, no two route tables share 11 lines of shape).
DUPLICATE_EXEMPT = re.compile(r"(^|/)(migrations|tests)/")
_PAIR = re.compile(r"^D\d+ (\S+) ~ (\S+)")


def _twins(output: str) -> list[str]:
    twins = []
    for line in output.splitlines():
        assert not line.startswith("incomplete:"), line
        assert not line.startswith("(+"), "more pairs than listed: raise --most"
        m = _PAIR.match(line)
        if m and not all(DUPLICATE_EXEMPT.search(side) for side in m.groups()):
            twins.append(line)
    return twins


def test_twins_are_found_and_exempt_places_left_out():
    output = "\n".join(
        [
            "5 pairs of places (9 files read)",
            "D1 a/services.py:1-20 ~ b/selectors.py:5-24 shape",
            "D2 a/migrations/0001_x.py:1-20 ~ a/migrations/0002_y.py:3-22",
            "D3 a/urls.py:5-30 ~ b/urls.py:5-26 shape",
            "D4 tests/a/test_x.py:1-12 ~ a/rows.py:3-14",
            "D5 tests/a/test_x.py:1-12 ~ a/migrations/0001_x.py:3-14 shape",
        ]
    )
    assert _twins(output) == [
        "D1 a/services.py:1-20 ~ b/selectors.py:5-24 shape",
        "D3 a/urls.py:5-30 ~ b/urls.py:5-26 shape",
        "D4 tests/a/test_x.py:1-12 ~ a/rows.py:3-14",
    ]


@pytest.mark.skipif(shutil.which("duplicates") is None, reason="the duplicates command is absent")
def test_no_twin_of_more_than_10_lines_outside_migrations_and_tests():
    proc = subprocess.run(
        ["duplicates", "--min-lines", "11", "--most", "200", "--seconds", "300"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert "pairs of places" in proc.stdout or "no duplicates" in proc.stdout, proc.stdout
    assert _twins(proc.stdout) == []
