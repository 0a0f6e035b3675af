"""Each user-facing string is written once in manage/: the fast answers (manage.quick, the
launcher) and the full CLI print the same lines from manage.light.render, not from copies."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "manage"
MIN_LENGTH = 20
PRINTERS = {"echo", "secho", "print", "write", "note", "heading", "error", "style"}
NOT_SHOWN = {
    "DROP DATABASE IF EXISTS",  # SQL
    "(op.get_bind(), checkfirst=True)",  # code written into migrations
}
# Error wording that core's modules still repeat among themselves: none now (each such sentence
# is built by one function in manage/errors.py). Keep it empty.
KNOWN_IN_CORE: set[str] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            # a docstring, or an attribute's docstring (a string statement after an assignment)
            for statement in body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def user_facing_strings(path: Path) -> set[str]:
    """The string constants of at least MIN_LENGTH characters in ``path`` that are printed:
    the literal parts of f-strings, and strings handed to echo/print/note/... (docstrings
    excepted)."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    found: set[str] = set()

    def add(node: ast.AST) -> None:
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Constant)
                and isinstance(inner.value, str)
                and id(inner) not in skip
                and len(inner.value.strip()) >= MIN_LENGTH
            ):
                found.add(inner.value.strip())

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            add(node)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in PRINTERS:
                for argument in node.args:
                    add(argument)
    return found


def test_no_user_facing_string_is_written_in_two_modules() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        for text in user_facing_strings(path):
            where[text].append(str(path.relative_to(PACKAGE)))

    twice = {text: files for text, files in where.items() if len(files) > 1}
    assert {text: files for text, files in twice.items() if text not in NOT_SHOWN} == {
        text: files for text, files in twice.items() if text in KNOWN_IN_CORE
    }
    assert all(not files[0].startswith(("cli", "light")) for files in twice.values())


def test_the_scan_sees_the_shared_lines() -> None:
    rendered = user_facing_strings(PACKAGE / "light" / "render.py")
    assert any(text.startswith("(missing: recorded in the database") for text in rendered)
    assert any(text.startswith("The database records") for text in rendered)
