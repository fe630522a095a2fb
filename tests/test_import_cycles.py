"""No import circle in radiovae: the graph of which module imports which is acyclic.

Built from the source with ``ast`` (no module is imported): every ``import`` / ``from ... import``,
at module level or inside a function (a lazy import that closes a circle is still a circle), and
the lazy names of a package ``__init__`` (PEP 562 maps, ``{"Name": "submodule"}`` or
``{"name": ("radiovae.pkg", "attr")}``) followed to the module that defines them.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# Circles outside train/ and model/, left to their owners and named here so that the test fails
# both when a new one appears and when one of these goes (then delete it from this list).
KNOWN: list[list[str]] = []     # no circle anywhere in the package


def module_files(root: Path = SRC) -> dict[str, Path]:
    """Module name -> file, for every module of the radiovae package."""
    out = {}
    for path in sorted((root / "radiovae").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _lazy_names(tree: ast.Module, package: str, modules: dict[str, Path]) -> dict[str, str]:
    """A package's PEP 562 map: attribute name -> the module it is loaded from."""
    out = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict)):
            continue
        for key, value in zip(node.value.keys, node.value.values, strict=True):
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                continue
            target = None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                target = f"{package}.{value.value}"
            elif isinstance(value, ast.Tuple) and value.elts and isinstance(value.elts[0], ast.Constant):
                target = str(value.elts[0].value)
            if target in modules:
                out[key.value] = target
    return out


def import_graph(modules: dict[str, Path], sources: dict[str, str] | None = None
                 ) -> dict[str, set[str]]:
    """Module -> the radiovae modules it imports (``sources`` overrides file contents)."""
    sources = sources or {}
    trees = {m: ast.parse(sources.get(m) or p.read_text(encoding="utf-8")) for m, p in modules.items()}
    lazy = {m: _lazy_names(t, m, modules) for m, t in trees.items()
            if modules[m].name == "__init__.py"}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, tree in trees.items():
        is_pkg = modules[mod].name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[:len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in modules:
                        graph[mod].add(full)
                    elif alias.name in lazy.get(base, {}):
                        graph[mod].add(lazy[base][alias.name])
                    elif base in modules:
                        graph[mod].add(base)
        graph[mod].discard(mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_radiovae_has_no_import_circle():
    modules = module_files()
    graph = import_graph(modules)
    assert len(modules) > 50 and graph["radiovae.train.trainer"]   # the scan saw the package
    assert "radiovae.model.build" in graph["radiovae.train.resume"]   # via model/'s lazy map
    assert cycles(graph) == KNOWN
    assert not any(m.startswith(("radiovae.train.", "radiovae.model.")) for c in KNOWN for m in c)


def test_a_circle_is_found():
    """The scan can fail: resume.py importing the trainer back (the circle that was) is one."""
    modules = module_files()
    resume = modules["radiovae.train.resume"].read_text(encoding="utf-8")
    looped = resume + "\n\ndef _again():\n    from radiovae.train.trainer import train\n"
    found = [c for c in cycles(import_graph(modules, {"radiovae.train.resume": looped}))
             if c not in KNOWN]
    assert len(found) == 1 and {"radiovae.train.resume", "radiovae.train.trainer"} <= set(found[0])
    relative = resume + "\nfrom . import trainer\n"
    found = [c for c in cycles(import_graph(modules, {"radiovae.train.resume": relative}))
             if c not in KNOWN]
    assert len(found) == 1 and "radiovae.train.trainer" in found[0]
