"""Format a written migration with the project's formatter (ruff, else black) when installed,
so it passes ``ruff check`` and ``ruff format --check`` as the rest of the project does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from manage.light.cachefs import atomic_write


def _tool(name: str) -> str | None:
    """``name`` next to the running Python (the project's virtualenv) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def _ignore(_message: str) -> None:
    return None


def format_migration(
    path: Path,
    *,
    project_root: Path,
    fix: bool = True,
    on_problem: Callable[[str], None] = _ignore,
    as_path: Path | None = None,
) -> str | None:
    """Fix what ``ruff check`` can fix (unused imports) and format ``path``; returns the tool
    used, or None when neither ruff nor black is installed. The project's own configuration
    applies (found from ``project_root``); a failing formatter leaves the file as written.

    The formatter reads the text on stdin and answers on stdout, so ``path`` is rewritten
    once, atomically (``atomic_write``): a full disk leaves it as it was.

    Args:
        fix: also apply ``ruff check --fix``; off for an empty migration, whose ``op`` and
            ``sa`` imports are there for the code the user is about to write.
        on_problem: told when the formatter fails (a bad configuration, a crash), so the
            user knows why the file is not formatted.
        as_path: where the file will live, when ``path`` is a scratch copy: the formatter
            takes its configuration from there.
    """
    text = path.read_text(encoding="utf-8")
    if not fix:
        text = _keep_imports(text)
    elif not _tool("ruff"):
        text = _drop_unused_sa(text)  # what ruff check --fix would do; black does not
    shown = str(as_path or path)
    commands: list[list[str]] = []
    if ruff := _tool("ruff"):
        commands = [[ruff, "format", "--no-cache", "--quiet", "--stdin-filename", shown, "-"]]
        if fix:
            check = ["check", "--fix-only", "--exit-zero", "--no-cache", "--quiet"]
            commands.insert(0, [ruff, *check, "--stdin-filename", shown, "-"])
        used: str | None = "ruff"
    elif black := _tool("black"):
        commands = [[black, "--quiet", "--stdin-filename", shown, "-"]]
        used = "black"
    else:
        used = None
    name = (as_path or path).name
    for command in commands:
        try:
            done = subprocess.run(
                command,
                cwd=project_root,
                input=text,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            on_problem(f"{used} could not format {name} ({exc}); it is written unformatted.")
            used = None
            break
        if done.returncode != 0:
            why = next((line for line in done.stderr.splitlines() if line.strip()), "no message")
            on_problem(
                f"{used} could not format {name} (exit {done.returncode}: {why.strip()}); "
                "it is written unformatted. Fix the formatter's configuration, then run "
                f"'{used} format' on it."
            )
            used = None
            break
        text = done.stdout
    if text != path.read_text(encoding="utf-8"):
        atomic_write(path, text)
    return used


def _drop_unused_sa(text: str) -> str:
    """Remove ``import sqlalchemy as sa`` when nothing else uses ``sa`` (a drop-only migration)."""
    line = "import sqlalchemy as sa\n"
    if line in text and not re.search(r"\bsa\.", text.replace(line, "", 1)):
        return text.replace(line, "", 1)
    return text


def _keep_imports(text: str) -> str:
    """Mark the template's imports as wanted, so an empty migration passes ``ruff check``."""
    for line in ("import sqlalchemy as sa", "from alembic import op"):
        text = text.replace(f"\n{line}\n", f"\n{line}  # noqa: F401\n", 1)
    return text
