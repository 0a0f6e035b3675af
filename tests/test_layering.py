"""Imports point down only: cli -> commands -> core -> alembic/sqlalchemy; core never prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "manage"
FORBIDDEN = {
    "core": ("typer", "click", "rich", "manage.cli", "manage.commands"),
    "commands": ("typer", "click", "rich", "manage.cli"),
}


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
    files = sorted((PACKAGE / layer).glob("*.py"))
    assert files
    bad = [
        f"{path.name} imports {name}"
        for path in files
        for name in imports(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert bad == []


def test_core_never_prints_prompts_or_exits() -> None:
    bad = []
    for path in sorted((PACKAGE / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
                name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                if name in ("print", "input", "exit"):
                    bad.append(f"{path.name}:{node.lineno} calls {name}")
    assert bad == []


def test_errors_module_imports_nothing_from_manage() -> None:
    assert [n for n in imports(PACKAGE / "errors.py") if n.startswith("manage")] == []


def test_only_cli_imports_typer() -> None:
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith("typer") for name in imports(path))
    )
    assert users == ["cli.py"]
