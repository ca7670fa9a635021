"""The package's shape: imports run one way, private names stay home, the API is what is documented.

These checks read the source (``ast``), so a new module is covered the day it is added.
"""

from __future__ import annotations
import __future__

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import dfkit
from dfkit import errors

PACKAGE = Path(dfkit.__file__).resolve().parent
README = PACKAGE.parent / "README.md"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, list[str], bool]]:
    """Return (imported module, names, lazy) for each dfkit import in a module.

    ``lazy`` is true for an import inside a function or under ``if TYPE_CHECKING``: those do
    not run at import time, so they cannot form an import-time circle.
    """
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: list[tuple[str, list[str], bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                if child.module == "dfkit" or child.module.startswith("dfkit."):
                    names = [a.name for a in child.names]
                    if child.module == "dfkit":  # from dfkit import analysis, ...
                        for n in names:
                            if f"dfkit.{n}" in MODULES:
                                found.append((f"dfkit.{n}", [], child_lazy))
                    else:
                        found.append((child.module, names, child_lazy))
            elif isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.startswith("dfkit."):
                        found.append((a.name, [], child_lazy))
            visit(child, child_lazy)

    visit(tree, False)
    return found


def test_no_import_circle() -> None:
    """No two dfkit modules import each other, directly or through others."""
    graph = {
        name: {m for m, _, lazy in _imports(name) if not lazy and m in MODULES and m != name}
        for name in MODULES
    }
    # a package's __init__ re-exports its submodules: the edge package -> submodule is expected
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}

    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)


def test_no_private_name_imported_from_another_module() -> None:
    offenders = [
        f"{name} imports {n} from {module}"
        for name in MODULES
        for module, names, _ in _imports(name)
        for n in names
        if n.startswith("_") and not n.startswith("__") and module != name
    ]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "dfkit.__main__"))
def test_module_all_names_exist_and_cover_its_public_definitions(name: str) -> None:
    module = importlib.import_module(name)
    public = getattr(module, "__all__", None)
    if public is None:
        assert Path(MODULES[name]).name.startswith("_") or name.split(".")[-1].startswith("_"), (
            f"{name} is public but has no __all__"
        )
        return
    missing = [n for n in public if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names what it does not define"
    defined_here = [
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == name
    ]
    assert sorted(set(defined_here) - set(public)) == [], f"{name}.__all__ is incomplete"


def test_cross_module_imports_use_public_names_listed_in_all() -> None:
    """What one module imports from another is part of that module's declared interface."""
    offenders = []
    for name in MODULES:
        for module, names, _ in _imports(name):
            if module not in MODULES or not names:
                continue
            target = importlib.import_module(module)
            public = getattr(target, "__all__", None)
            if public is None or Path(MODULES[module]).name.startswith("_"):
                continue
            offenders += [f"{name}: {module}.{n}" for n in names if n not in public]
    assert offenders == []


def test_package_all_is_the_documented_api() -> None:
    """Every name in ``dfkit.__all__`` exists, and the package exports nothing else public."""
    assert sorted(dfkit.__all__) == sorted(set(dfkit.__all__))
    for n in dfkit.__all__:
        assert hasattr(dfkit, n), n
    stray = {
        n
        for n, obj in vars(dfkit).items()
        if not n.startswith("_")
        and not inspect.ismodule(obj)
        and not isinstance(obj, __future__._Feature)
        and n not in dfkit.__all__
    }
    assert stray == set()


def _parents(text: str) -> dict[str, str | None]:
    """Each class drawn in an error tree, mapped to the class it hangs from."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^\s*((?:[│ ] {3})*)(├── |└── )?([A-Z]\w+)\b", line)
        if not m or (m.group(2) is None and not m.group(3).startswith("Dfkit")):
            continue
        depth = 0 if m.group(2) is None else len(m.group(1)) // 4 + 1
        del stack[depth:]
        parents[m.group(3)] = stack[-1] if stack else None
        stack.append(m.group(3))
    return parents


def _real_parents() -> dict[str, str | None]:
    classes = [getattr(errors, n) for n in errors.__all__ if inspect.isclass(getattr(errors, n))]
    tree: dict[str, str | None] = {}
    for cls in classes:
        if issubclass(cls, errors.DfkitError):
            up = [b for b in cls.__bases__ if issubclass(b, errors.DfkitError)]
            tree[cls.__name__] = up[0].__name__ if up else None
    return tree


def _block(text: str, start: str) -> str:
    i = text.index(start)
    j = text.find("\n\n", i)
    return text[i : j if j != -1 else len(text)]


def test_error_tree_drawn_in_errors_module_is_the_class_tree() -> None:
    drawn = _parents(_block(errors.__doc__ or "", "DfkitError "))
    assert drawn == _real_parents()


def test_error_tree_in_readme_is_the_class_tree() -> None:
    text = README.read_text(encoding="utf-8")
    drawn = _parents(_block(text[text.index("## Errors") :], "DfkitError "))
    assert drawn == _real_parents()
    assert set(drawn) <= set(dfkit.__all__), "every error drawn in the README is exported"
