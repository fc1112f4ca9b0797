"""Checks a reader of the code would make: calls run one way, and the pipeline's functions stay short.

Imports are read from the source (module level and inside functions alike,
``if TYPE_CHECKING:`` blocks excepted), so a lazy import that closes a circle
counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import talkcli

PACKAGE = Path(talkcli.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``path`` imports (a package import counts as its ``__init__``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_the_package():
    found = cycles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(group) for group in found)


def test_calls_run_one_way_api_runner_pipeline():
    graph = import_graph()
    assert "talkcli.jobs.runner" in graph["talkcli.api"]
    assert "talkcli.pipeline" in graph["talkcli.jobs.runner"]
    for low in ("talkcli.pipeline", "talkcli.jobs.runner", "talkcli.jobs.batch", "talkcli.engines"):
        assert "talkcli.api" not in graph[low], f"{low} imports the facade above it"
    assert "talkcli.jobs.runner" not in graph["talkcli.pipeline"]
    below, todo = set(), ["talkcli.job"]
    while todo:  # everything the facade's types reach, directly or not
        for m in graph[todo.pop()] - below:
            below.add(m)
            todo.append(m)
    above = below & {"talkcli.api", "talkcli.jobs.runner", "talkcli.pipeline", "talkcli.engines", "talkcli.jobs.batch"}
    assert not above, f"the facade's types reach up to {above}"


def test_pipeline_and_job_runner_functions_are_short():
    long = []
    for module in ("pipeline.py", "jobs/runner.py"):
        tree = ast.parse((PACKAGE / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{module}:{node.name} ({n} lines)")
    assert not long, long


def test_engines_are_chosen_in_one_place():
    # Drivers and frame sources are built only by talkcli.engines (and their own modules).
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name in ("talkcli.engines", "talkcli.motion.driver", "talkcli.render.frames", "talkcli.render.source"):
            continue
        text = path.read_text(encoding="utf-8")
        for constructor in ("PhoneDriver(", "FrameRenderer("):
            assert constructor not in text, f"{name} builds an engine ({constructor}) outside talkcli.engines"
