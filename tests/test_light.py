"""``manage.light`` is standard library only: each module imports in a fresh interpreter without
SQLAlchemy, Alembic, Typer or python-dotenv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LIGHT = sorted(
    p.stem
    for p in (Path(__file__).parents[1] / "manage/light").glob("*.py")
    if p.stem != "__init__"
)


@pytest.mark.parametrize("module", LIGHT)
def test_a_light_module_imports_only_the_standard_library(module: str) -> None:
    code = (
        f"import sys, manage.light.{module}\n"
        "names = ('sqlalchemy', 'alembic', 'typer', 'dotenv', 'click')\n"
        "bad = [m for m in names if m in sys.modules]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"


@pytest.mark.parametrize(
    "module", ["manage.launcher", "manage.core.answers", "manage.core.check.pipeline"]
)
def test_the_remembered_answer_path_imports_only_the_standard_library(module: str) -> None:
    """The launcher asks the check pipeline for the remembered answer before anything else: the
    pipeline (and what it imports on load) must not import SQLAlchemy, nor ``dataclasses`` and
    ``difflib``, which cost a fifth of that answer's time."""
    code = (
        f"import sys, {module}\n"
        "names = ('sqlalchemy', 'alembic', 'typer', 'dotenv', 'click', 'dataclasses', 'difflib')\n"
        "print([m for m in names if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
