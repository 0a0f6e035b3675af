"""The pre-commit hook, run by the real ``pre-commit`` on ``git commit`` in a temporary repository.

The hook repository is a git repository made here, holding this checkout's .pre-commit-hooks.yaml,
because pre-commit clones ``repo`` at ``rev``: the file must be committed there, and everything
stays on this machine (``language: system`` downloads nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECTS

HOOKS_FILE = Path(__file__).parents[1] / ".pre-commit-hooks.yaml"
TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
PRICE = TITLE + "    price: Mapped[int | None]\n"


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """A user's shell: the venv's bin first on PATH, no global git or pre-commit state."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GIT_", "PRE_COMMIT", "DATABASE_URL", "MANAGE_SETTINGS"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        PRE_COMMIT_COLOR="never",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run(
    env: dict[str, str], cwd: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if check:
        assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


def git_repository(env: dict[str, str], folder: Path) -> None:
    run(env, folder, "git", "init", "-q", "-b", "main")
    run(env, folder, "git", "config", "user.name", "Test User")
    run(env, folder, "git", "config", "user.email", "test@example.com")


def commit(env: dict[str, str], folder: Path, message: str) -> subprocess.CompletedProcess[str]:
    run(env, folder, "git", "add", "-A")
    return run(env, folder, "git", "commit", "-m", message, check=False)


@pytest.fixture
def hooks_repository(tmp_path: Path, environment: dict[str, str]) -> tuple[str, str]:
    """(file:// URL, commit) of a git repository holding this checkout's hook definitions."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    shutil.copy(HOOKS_FILE, folder / ".pre-commit-hooks.yaml")
    git_repository(environment, folder)
    assert commit(environment, folder, "hooks").returncode == 0
    rev = run(environment, folder, "git", "rev-parse", "HEAD").stdout.strip()
    return folder.as_uri(), rev


def test_a_model_change_without_a_migration_cannot_be_committed(
    tmp_path: Path, environment: dict[str, str], hooks_repository: tuple[str, str]
) -> None:
    env, (url, rev) = environment, hooks_repository
    project = tmp_path / "shop"
    shutil.copytree(PROJECTS / "shop", project)
    (project / ".pre-commit-config.yaml").write_text(
        "repos:\n"
        f"  - repo: {url}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: manage-check-migrations\n"
    )
    git_repository(env, project)
    run(env, project, str(BIN / "pre-commit"), "install")
    run(env, project, "manage", "makemigrations")
    first = commit(env, project, "Shop with its initial migration")
    models = project / "shop/models.py"
    models.write_text(models.read_text().replace(TITLE, PRICE))

    refused = commit(env, project, "Add a price to books")
    run(env, project, "manage", "makemigrations")
    accepted = commit(env, project, "Add a price to books, with its migration")

    assert first.returncode == 0, first.stdout + first.stderr
    assert refused.returncode != 0, refused.stdout + refused.stderr
    lines = refused.stderr.splitlines()  # git sends what hooks print to stderr
    assert lines[0].startswith("manage makemigrations --check....")
    assert lines[0].endswith("Failed")
    assert lines[1:] == [
        "- hook id: manage-check-migrations",
        "- exit code: 1",
        "",
        "Model changes without a migration:",
        "    + Add column price to book",
        "Run 'manage makemigrations' to write migrations/0002_add_book_price.py.",
        "",
    ]
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert accepted.stderr.splitlines()[0].startswith("manage makemigrations --check....")
    assert accepted.stderr.splitlines()[0].endswith("Passed")
    log = run(env, project, "git", "log", "--format=%s").stdout.splitlines()
    assert log == ["Add a price to books, with its migration", "Shop with its initial migration"]
    shown = run(env, project, "git", "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert shown == ["migrations/0002_add_book_price.py", "shop/models.py"]
