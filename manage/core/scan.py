"""Find declarative Bases in a project's source by reading it (ast), without importing it."""

from __future__ import annotations

import ast
import os
from pathlib import Path

# Folders that hold no project code of interest, or too much code of others.
SKIPPED_FOLDERS = frozenset(
    {"__pycache__", "node_modules", "site-packages", "venv", "env", "build", "dist", "migrations"}
)
_BASE_CLASSES = frozenset({"DeclarativeBase", "DeclarativeBaseNoMeta"})
_BASE_FACTORIES = frozenset({"declarative_base"})


def find_bases(root: Path) -> list[str]:
    """``module:Name`` of each class deriving from ``DeclarativeBase`` and each
    ``Name = declarative_base()`` in the ``.py`` files under ``root``, sorted."""
    found: set[str] = set()
    for path in _python_files(root):
        module = _module_name(root, path)
        found.update(f"{module}:{name}" for name in _bases_in(path))
    return sorted(found)


def find_model_modules(root: Path, base: str) -> list[str]:
    """Modules other than the Base's own that import ``base`` (``module:Name``) and define a class
    deriving from it: the ones to import so that the models register on the Base."""
    base_module, _, base_name = base.partition(":")
    found = []
    for path in _python_files(root):
        module = _module_name(root, path)
        if module == base_module:
            continue
        try:
            tree = ast.parse(path.read_bytes(), str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        local = {
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and _absolute(node, package) == base_module
            for alias in node.names
            if alias.name == base_name
        }
        if any(
            isinstance(node, ast.ClassDef) and any(_last_name(b) in local for b in node.bases)
            for node in tree.body
        ):
            found.append(module)
    return sorted(found)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
    return ".".join([*parts, *([node.module] if node.module else [])])


def _python_files(root: Path) -> list[Path]:
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(
            d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS
        )
        files += [Path(folder) / name for name in sorted(names) if name.endswith(".py")]
    return files


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts and parts[0] == "src" and len(parts) > 1:
        parts.pop(0)  # the src layout: the package is installed, "src" is not part of its name
    return ".".join(parts)


def _bases_in(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except (SyntaxError, ValueError, OSError):
        return []  # not ours to judge here; importing it will say what is wrong
    names = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            _last_name(base) in _BASE_CLASSES for base in node.bases
        ):
            names.append(node.name)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _last_name(node.value.func) in _BASE_FACTORIES
        ):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
