"""Imports point down only: launcher -> cli -> commands -> core -> alembic/sqlalchemy; core never
prints; no import cycle between manage's modules; no module over 600 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "manage"
FORBIDDEN = {
    "core": ("typer", "click", "rich", "manage.cli", "manage.commands", "manage.launcher"),
    "commands": ("typer", "click", "rich", "manage.cli", "manage.launcher"),
    "cli": ("manage.launcher",),
    # Standard library only at run time (tests/test_light.py); type hints may name core's types.
    "light": ("typer", "click", "rich", "manage.cli", "manage.commands", "manage.launcher"),
}
MAX_LINES = 600


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_upper_ones(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    bad = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert bad == []


def test_every_package_has_a_layer() -> None:
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert packages == set(FORBIDDEN)


def test_core_never_prints_prompts_or_exits() -> None:
    bad = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if name in ("print", "input", "exit"):
                    bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno} calls {name}")
    assert bad == []


def test_errors_module_imports_nothing_from_manage() -> None:
    assert [n for n in imports(PACKAGE / "errors.py") if n.startswith("manage")] == []


def test_only_cli_imports_typer() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("typer") for name in imports(path))
    )
    # compat.py names Typer's vendored Click classes for type hints only (tests/test_compat.py
    # checks it imports nothing but the standard library).
    assert users == [
        "cli/app.py",
        "cli/group.py",
        "cli/lint.py",
        "cli/output.py",
        "cli/params.py",
        "cli/prompts.py",
        "cli/schema.py",
        "compat.py",
    ]


def test_no_module_is_over_600_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _run_time_imports(nodes: Sequence[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (a function's too), except type-hint-only ones."""
    for node in nodes:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _run_time_imports(node.orelse)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            yield from _run_time_imports(list(ast.iter_child_nodes(node)))


def import_graph() -> dict[str, set[str]]:
    """manage's modules, each with the modules of manage it imports at run time: ``from a import
    b`` points at module ``a.b`` when there is one, else at ``a``."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in _run_time_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names if alias.name in modules}
                continue
            base = node.module or ""
            if node.level:
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    targets.add(f"{base}.{alias.name}")
                elif base in modules:
                    targets.add(base)
        graph[name] = targets - {name}
    return graph


def test_no_import_cycle() -> None:
    """Not even through an import inside a function: each module only imports lower ones."""
    graph = import_graph()
    assert "manage.cli.app" in graph["manage.cli"]  # the graph sees the package's modules
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []
