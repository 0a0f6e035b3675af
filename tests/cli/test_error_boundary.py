"""One error boundary: ``ManageGroup.invoke`` turns every ManageError into ``Error: ...`` and its
exit code (Django's ``run_from_argv``); every ManageError subclass lives in manage/errors.py."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import manage
from manage.errors import ManageError
from tests.conftest import Project

PACKAGE = Path(manage.__file__).parent


REPORTING = {"report", "error", "echo", "note", "Exit"}


def _catches_manage_error(handler: ast.ExceptHandler) -> bool:
    """A handler of ManageError that prints it or exits: a boundary (one that only falls back,
    like ``check``'s when the settings fail, is not)."""
    names = (
        {n.id for n in ast.walk(handler.type) if isinstance(n, ast.Name)} if handler.type else set()
    )
    re_raises = (
        len(handler.body) == 1
        and isinstance(handler.body[0], ast.Raise)
        and handler.body[0].exc is None
    )
    called = {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(handler)
        if isinstance(node, ast.Call)
    }
    return "ManageError" in names and not re_raises and bool(called & REPORTING)


def test_manage_error_is_caught_in_one_place_of_the_cli() -> None:
    places = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ExceptHandler) and _catches_manage_error(inner):
                        places.append(f"{path.name}:{node.name}")
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                assert name != "reporting", f"{path.name}:{node.lineno}"

    # the boundary, and the launcher's reporter of an error its fast answer found
    assert sorted(places) == ["group.py:invoke", "output.py:report_error"]


def test_every_manage_error_lives_in_errors_py() -> None:
    for module in pkgutil.walk_packages([str(PACKAGE)], "manage."):
        if module.name != "manage.__main__":
            importlib.import_module(module.name)
    found, todo = set(), [ManageError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo += cls.__subclasses__()

    assert {cls.__module__ for cls in found} == {"manage.errors"}
    assert len(found) >= 14


def test_a_command_function_raises_and_the_cli_exits(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    with pytest.raises(manage.ManageError, match=r"^Unknown migration '9'") as raised:
        manage.call_command("sqlmigrate", "9")
    result = sqlite_project.run("sqlmigrate", "9")

    assert result.exit_code == raised.value.exit_code == 3
    assert result.stdout == ""
    assert result.stderr == f"Error: {raised.value}\n"


def test_a_project_command_error_goes_through_the_same_boundary(sqlite_project: Project) -> None:
    sqlite_project.write(
        "shop/commands.py",
        "from manage import ManageError, command\n\n"
        "@command()\ndef fail():\n    raise ManageError('Set up the shop first.')\n",
    )
    sqlite_project.edit(
        "pyproject.toml", "[tool.manage]\n", '[tool.manage]\ncommands = ["shop.commands"]\n'
    )

    result = sqlite_project.run("--traceback", "fail")

    assert result.exit_code == 3
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.endswith("\nError: Set up the shop first.\n")


def test_help_into_a_closed_pipe_is_no_project_exit(sqlite_project: Project) -> None:
    """Rich ends the help with sys.exit(1) when the reader went away (``| head -1``): that exit
    is the help's, not project code's, so no "Project code stopped manage" error."""
    import subprocess

    from tests.conftest import BIN

    process = subprocess.Popen(
        [str(BIN / "manage"), "migrate", "--help", "-v", "2"],
        cwd=sqlite_project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # as `| head -1` does
    error = process.stderr.read().decode()
    process.stderr.close()
    process.wait(timeout=60)

    assert "Error:" not in error
