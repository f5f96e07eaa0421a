"""The dependency rule of docs/ARCHITECTURE.md, checked by walking every import with ``ast``.

Stages are ranked; a module may import its own stage or lower ones, never a higher one (lazy
imports inside functions count too). No cycles between stages, and no private (underscore)
name is imported from another stage. Size limits keep rooms small enough to read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "hercules"

# Lower number = lower layer. A stage may import only stages of its own rank or below.
RANK = {
    "common": 0,
    "data": 1,
    "clustering": 1,
    "hierarchy": 2,
    "embeddings": 2,
    "llm": 2,
    "layout": 2,
    "space": 2,
    "labeling": 3,
    "guidance": 3,
    "engines": 3,
    "evaluation": 4,
    "pipeline": 4,
    "persistence": 5,
    "estimator": 6,
    "viz": 7,
    "cli": 8,
    "app": 8,
}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "hercules" or len(parts) < 2:
        return None
    return parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names], node.lineno))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _edges() -> list[tuple[str, str, str, list[str], int]]:
    """(from stage, to stage, from module, names, line) for imports between hercules stages."""
    edges = []
    for path in _modules():
        me = _module_name(path)
        src = _stage(me)
        if src is None:
            continue
        for target, names, line in _imports(path):
            dst = _stage(target)
            if dst is not None:
                edges.append((src, dst, me, names, line))
    return edges


def test_every_stage_has_a_rank():
    stages = {_stage(_module_name(p)) for p in _modules()} - {None}
    assert stages <= set(RANK), f"give these stages a rank in RANK and docs/ARCHITECTURE.md: {stages - set(RANK)}"


def test_no_import_from_a_higher_stage():
    bad = [
        f"{mod}:{line} ({src}, rank {RANK[src]}) imports hercules.{dst} (rank {RANK[dst]})"
        for src, dst, mod, _, line in _edges()
        if src in RANK and dst in RANK and RANK[dst] > RANK[src]
    ]
    assert not bad, "\n".join(bad)


def test_no_cycle_between_stages():
    graph: dict[str, set[str]] = {}
    for src, dst, *_ in _edges():
        if src != dst:
            graph.setdefault(src, set()).add(dst)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(s for s in graph if s in reach(s))
    assert not cycles, f"stages on an import cycle: {cycles}"


def test_no_private_name_imported_across_stages():
    bad = []
    for src, dst, mod, names, line in _edges():
        if src == dst:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        if private:
            bad.append(f"{mod}:{line} imports private {private} from hercules.{dst}")
    assert not bad, "\n".join(bad)


def _function_lengths(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (f"{path.relative_to(SRC)}:{node.lineno} {node.name}", node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]


@pytest.mark.parametrize("limit", [400])
def test_no_module_over_the_size_limit(limit):
    big = [
        f"{p.relative_to(SRC)}: {n} lines" for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    ]
    assert not big, "\n".join(big)


@pytest.mark.parametrize("limit", [80])
def test_no_function_over_the_size_limit(limit):
    long = [f"{name}: {n} lines" for p in _modules() for name, n in _function_lengths(p) if n > limit]
    assert not long, "\n".join(long)


def test_the_rule_catches_a_violation(tmp_path):
    """The walker itself works: a planted upward import is seen."""
    f = tmp_path / "x.py"
    f.write_text("def f():\n    from hercules.estimator import Hercules\n")
    assert ("hercules.estimator", ["Hercules"], 2) in _imports(f)
