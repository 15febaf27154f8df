"""The shape of the package: no import cycles, every documented name resolves, a light import.

Fast and without an engine: these read the source tree and import modules, nothing more.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import reprokit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reprokit"

# --- import graph -------------------------------------------------------------------------------


def module_files() -> dict[str, Path]:
    """Every module of reprokit by dotted name; a package's ``__init__`` is the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:`` (not executed, so not an import)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for stmt in node.body:
                skip.update(id(n) for n in ast.walk(stmt))
    return skip


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` is or lies in (``a.b.func`` → ``a.b``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The reprokit modules that ``name`` imports, at module level or inside functions.

    ``from pkg import sub`` is an edge to the submodule ``pkg.sub`` when it is one, else to
    ``pkg``; relative imports are resolved against the module's package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            owner = _owner(target, modules)
            if owner is not None and owner != name:
                found.add(owner)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_imports_resolve_relative_and_submodule_edges():
    graph = import_graph()
    assert "reprokit.auditing.practices" in graph["reprokit.auditing.rules"]
    assert "reprokit.engine" in graph["reprokit.containers"]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(
        " ↔ ".join(c) for c in found
    )


# --- documented names ---------------------------------------------------------------------------

_NAME = re.compile(r"(?<![\w.\-/])reprokit(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_FROM_IMPORT = re.compile(r"from (reprokit(?:\.\w+)*) import \(?([\w, ]+)")
#: Dotted names that are files, not Python names.
FILE_NAMES = {"reprokit.toml"}


def _notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or []
    return "\n".join(
        "".join(c.get("source") or "") if isinstance(c.get("source"), list) else c["source"]
        for c in cells
        if c.get("cell_type") in ("markdown", "code")
    )


def _string_constants(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def documented_names() -> dict[str, set[str]]:
    """Every dotted ``reprokit.…`` name, by the file that mentions it."""
    texts: dict[str, str] = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    for path in sorted((ROOT / "docs").glob("*.md")):
        texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        texts[str(path.relative_to(ROOT))] = _notebook_text(path)
    for path in sorted(PACKAGE.rglob("*.py")):
        texts[str(path.relative_to(ROOT))] = "\n".join(_string_constants(path))
    names: dict[str, set[str]] = {}
    for where, text in texts.items():
        found = set(_NAME.findall(text)) - FILE_NAMES
        for module, imported in _FROM_IMPORT.findall(text):  # from reprokit.x import a, b
            parts = [n.split(" as ")[0].strip() for n in imported.split(",")]
            found.update(f"{module}.{n}" for n in parts if n)
        for name in found - {""}:
            names.setdefault(name, set()).add(where)
    return names


def _attribute(owner: Any, name: str) -> Any:
    """``getattr``, also finding dataclass fields without a default (not class attributes)."""
    try:
        return getattr(owner, name)
    except AttributeError:
        fields = dataclasses.fields(owner) if dataclasses.is_dataclass(owner) else ()
        if isinstance(owner, type) and name in {f.name for f in fields}:
            return None
        if isinstance(owner, type) and name in getattr(owner, "__annotations__", {}):
            return None
        raise


def resolve(name: str) -> Any:
    """Import the longest module prefix of ``name``, then look the rest up as attributes."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            value = _attribute(value, attr)
        return value
    raise ModuleNotFoundError(name)


def test_the_name_finder_skips_labels_and_file_names():
    text = "io.reprokit.run=1 .reprokit.toml see reprokit.load(path) and `reprokit.globs`."
    assert _NAME.findall(text) == ["reprokit.load", "reprokit.globs"]
    assert _FROM_IMPORT.findall("from reprokit.behaviour.checks import file, user\n") == [
        ("reprokit.behaviour.checks", "file, user")
    ]


def test_every_documented_name_resolves():
    broken = []
    for name, where in sorted(documented_names().items()):
        try:
            resolve(name)
        except (ImportError, AttributeError) as err:
            broken.append(f"{name} ({', '.join(sorted(where))}): {err}")
    assert not broken, "names in docs, notebooks or messages that do not resolve:\n" + "\n".join(
        broken
    )


# --- a light import -----------------------------------------------------------------------------

HEAVY = ("docker", "requests", "pandas", "matplotlib", "nbformat", "testinfra", "tqdm")


@pytest.mark.parametrize("module", ["reprokit", "reprokit.engine", "reprokit.layer_history"])
def test_import_stays_light(module: str):
    code = f"import sys, {module}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "", f"import {module} loads {done.stdout.strip()}"


def test_every_public_name_resolves():
    missing = [n for n in reprokit.__all__ if not hasattr(reprokit, n)]
    assert not missing
    assert set(reprokit.__all__) <= set(dir(reprokit))
