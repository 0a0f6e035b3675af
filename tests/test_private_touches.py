"""Every private touch of Alembic, SQLAlchemy, Typer/Click (and Mako, which Alembic brings) lives
in ``manage/compat.py``: this scans the rest of ``manage/`` with ``ast`` and fails on

- an import of an underscore name, or of a module with an underscore part (``typer._click``);
- an attribute ``x._name`` (not a dunder) that manage itself does not define, or any underscore
  attribute of a name imported from those packages; ``getattr``/``setattr``/``hasattr`` with
  such a name;
- an assignment to an attribute of something imported from those packages (monkeypatching), or
  to ``sys.modules`` for one of their modules.

``tests/test_compat.py`` pins each touch the compat module makes.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "manage"
COMPAT = PACKAGE / "compat.py"
THIRD_PARTY = ("alembic", "sqlalchemy", "typer", "click", "mako", "pydantic")
# Underscore names that are public by convention (namedtuple's API).
CONVENTIONAL = {"_replace", "_asdict", "_fields", "_make", "_field_defaults"}
ATTR_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _third_party(module: str) -> bool:
    return module.split(".")[0] in THIRD_PARTY


def _trees() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _sources() -> Iterator[tuple[Path, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, path.read_text()


def _defined_by_manage() -> set[str]:
    """Underscore names manage defines: functions, classes, variables, arguments, attributes it
    sets on ``self``/``cls``, and string constants naming an attribute (``_MARK = "_manage_x"``)."""
    names: set[str] = set()
    for _, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id in ("self", "cls")
            ):
                names.add(node.attr)
            elif isinstance(node, ast.alias) and node.asname:
                names.add(node.asname)
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("_manage")
            ):
                names.add(node.value)
    return {name for name in names if _is_private(name)}


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module it comes from, for imports of the third-party packages (and of
    the standard library, which is allowed its conventions: ``sys._getframe``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript | ast.Call):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def private_touches(path: Path, source: str, defined: set[str]) -> list[str]:
    tree = ast.parse(source, str(path))
    where = path.relative_to(PACKAGE)
    imported = _imported_names(tree)
    constants = _constants(tree)
    third = {name for name, module in imported.items() if _third_party(module)}
    stdlib = {
        name for name, module in imported.items() if module.split(".")[0] in sys.stdlib_module_names
    }
    bad: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        bad.append(f"{where}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _third_party(alias.name) and any(map(_is_private, alias.name.split("."))):
                    report(node, f"imports the internal module {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module and _third_party(node.module):
            if any(map(_is_private, node.module.split("."))):
                report(node, f"imports from the internal module {node.module}")
            for alias in node.names:
                if _is_private(alias.name):
                    report(node, f"imports the private name {node.module}.{alias.name}")
        elif isinstance(node, ast.Attribute) and _is_private(node.attr):
            root = _root(node.value)
            if node.attr in CONVENTIONAL or (root in stdlib and root not in third):
                continue
            if root in third or node.attr not in defined:
                report(node, f"touches the private attribute .{node.attr}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTR_FUNCTIONS
            and len(node.args) >= 2
        ):
            arg = node.args[1]
            name = (
                arg.value
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                else constants.get(arg.id)
                if isinstance(arg, ast.Name)
                else None
            )
            if name is not None and _is_private(name) and name not in defined:
                report(node, f"{node.func.id}(..., {name!r})")
            elif node.func.id in ("setattr", "delattr") and _root(node.args[0]) in third:
                report(node, f"{node.func.id} on {_root(node.args[0])} (monkeypatching)")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _root(target) in third:
                    report(node, f"assigns {_root(target)}...{target.attr} (monkeypatching)")
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "__dict__"
                ):
                    report(node, "writes an object's __dict__ (monkeypatching)")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "modules"
            and _root(node.func.value) == "sys"
            and node.func.attr in ("setdefault", "__setitem__", "pop", "update")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and _third_party(str(node.args[0].value))
        ):
            report(node, f"changes sys.modules[{node.args[0].value!r}]")
    for number, line in enumerate(source.splitlines(), start=1):
        if "method-assign" in line:  # mypy's code for replacing a method: monkeypatching
            bad.append(f"{where}:{number}: replaces a method (type: ignore[method-assign])")
    return bad


def test_private_touches_live_in_the_compat_module() -> None:
    defined = _defined_by_manage()
    bad = [
        line
        for path, source in _sources()
        if path != COMPAT
        for line in private_touches(path, source, defined)
    ]
    assert bad == [], (
        "Private Alembic/SQLAlchemy/Typer touches outside manage/compat.py (move each there, "
        "with a pinning test in tests/test_compat.py):\n" + "\n".join(bad)
    )


def test_the_scan_finds_each_kind_of_touch(tmp_path: Path) -> None:
    source = (
        "import sys\n"
        "from typer._click.core import Context\n"
        "from alembic.autogenerate.render import _render_server_default\n"
        "import sqlalchemy\n"
        "from alembic.operations import ops\n"
        "x = sqlalchemy.Column()._copy()\n"
        "y = getattr(x, '_runtime_param', None)\n"
        "ops.AddColumnOp.render = None\n"
        "sys.modules.setdefault('mako.ext.pygmentplugin', None)\n"
        "z = sys._getframe(0)\n"
        "x.__dict__['inspector'] = None\n"
        "x.invoke = print  # type: ignore[method-assign]\n"
    )
    path = PACKAGE / "probe.py"  # only its name is used
    found = private_touches(path, source, set())
    assert sorted(line.split(": ", 1)[1] for line in found) == sorted(
        [
            "imports from the internal module typer._click.core",
            "imports the private name alembic.autogenerate.render._render_server_default",
            "touches the private attribute ._copy",
            "getattr(..., '_runtime_param')",
            "assigns ops...render (monkeypatching)",
            "changes sys.modules['mako.ext.pygmentplugin']",
            "writes an object's __dict__ (monkeypatching)",
            "replaces a method (type: ignore[method-assign])",
        ]
    )
