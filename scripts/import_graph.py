"""Import graph of Billable's packages, read from the source (no Django needed).

    python scripts/import_graph.py            # Mermaid picture to stdout
    python scripts/import_graph.py --write    # rewrite docs/import-graph.mmd and the
                                              # picture in docs/architecture.md
    python scripts/import_graph.py --check    # exit 1 on an upward import or an import cycle

An edge A -> B means some module of package A imports package B. Layers,
lowest first; a package may import only packages of a lower layer or its own:

    core  <-  agreements  <-  timesheets  <-  invoicing  <-  receivables  <-  portal  <-  records
    <-  demo  <-  billing_site (settings, urls, Celery) ; bench (benchmarks) sits beside it.

Cycles are searched among module-level imports (an import inside a function body runs later,
when every module is loaded, and is how a Celery task reaches its service).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "core",
    "agreements",
    "timesheets",
    "invoicing",
    "receivables",
    "portal",
    "records",
    "demo",
    "billing_site",
    "bench",
]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["bench"] = RANK["billing_site"]  # tooling beside the wiring: may read every app
OUTPUT = ROOT / "docs" / "import-graph.mmd"
DOC = ROOT / "docs" / "architecture.md"  # embeds the picture between these markers
START, END = "<!-- import-graph -->\n", "<!-- /import-graph -->"


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every first-party import in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top_level = {id(node) for node in tree.body}
    for node in tree.body:  # `if TYPE_CHECKING:` blocks never run
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            top_level -= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level] if node.level else []
                base = ".".join([*package, base]) if base else ".".join(package)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            if name.split(".")[0] in RANK:
                found.append((name, id(node) in top_level))
    return found


def graph() -> tuple[dict[tuple[str, str], int], list[str], list[list[str]]]:
    modules = _modules()
    package_edges: dict[tuple[str, str], int] = defaultdict(int)
    upward: list[str] = []
    module_edges: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        src = module.split(".")[0]
        seen: set[str] = set()
        for name, at_top in _imports(path, module):
            dst = name.split(".")[0]
            target = name
            while target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if at_top and target in modules and target != module:
                module_edges[module].add(target)
            if dst == src or dst in seen:
                continue
            seen.add(dst)
            package_edges[(src, dst)] += 1
            if RANK[dst] > RANK[src]:
                upward.append(f"{module} imports {name} ({dst} is downstream of {src})")
    return dict(package_edges), upward, _cycles(module_edges)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return result


def mermaid(package_edges: dict[tuple[str, str], int]) -> str:
    lines = [
        "%% Generated by `python scripts/import_graph.py --write`; do not edit by hand.",
        "%% A --> B: some module of package A imports package B.",
        "flowchart BT",
    ]
    for name in LAYERS:
        lines.append(f"    {name}")
    # No counts on the edges: the picture changes only when a new dependency between packages
    # appears, not with every module added.
    for src, dst in sorted(package_edges, key=lambda e: (RANK[e[0]], RANK[e[1]])):
        lines.append(f"    {src} --> {dst}")
    return "\n".join(lines) + "\n"


def embedded(doc: str, picture: str) -> str:
    """`doc` with the picture between the markers replaced by `picture`."""
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}```mermaid\n{picture}```\n{END}{tail}"


def main(argv: list[str]) -> int:
    package_edges, upward, cycles = graph()
    text = mermaid(package_edges)
    if "--check" in argv:
        for problem in upward:
            print(f"upward import: {problem}")
        for cycle in cycles:
            print("import cycle: " + " <-> ".join(cycle))
        return 1 if upward or cycles else 0
    if "--write" in argv:
        OUTPUT.write_text(text, encoding="utf-8")
        DOC.write_text(embedded(DOC.read_text(encoding="utf-8"), text), encoding="utf-8")
        print(f"wrote {OUTPUT.relative_to(ROOT)} and {DOC.relative_to(ROOT)}")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
