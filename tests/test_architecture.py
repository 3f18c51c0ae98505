"""The layering holds: no package imports a downstream one, no module-level import cycle, and
the committed picture in docs/ is the one the source gives (scripts/import_graph.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
