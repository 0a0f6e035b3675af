"""An existing Alembic project works unchanged; manage and plain alembic agree on the database."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, Project

PRICE = "    price: Mapped[int | None]\n    title: Mapped[str]"
ISBN = "    isbn: Mapped[str | None] = mapped_column(String(13))\n    title: Mapped[str]"


def alembic(project: Project, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "alembic"), *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def alembic_project(project: Project) -> Path:
    """What `alembic init` and `alembic revision --autogenerate` leave in a project."""
    alembic(project, "init", "alembic")
    ini = project.root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "sqlalchemy.url = driver://user:pass@localhost/dbname",
            f"sqlalchemy.url = {project.database_url}",
        )
    )
    env_py = project.root / "alembic/env.py"
    # As docs/production.md says: plain autogenerate must leave manage's history table alone.
    env_py.write_text(
        env_py.read_text()
        .replace(
            "target_metadata = None",
            "from shop.models import Base\ntarget_metadata = Base.metadata\n\n\n"
            "def include_name(name, type_, parent_names):\n"
            '    return not (type_ == "table" and name == "manage_migration_history")\n',
        )
        .replace(
            "target_metadata=target_metadata",
            "include_name=include_name, target_metadata=target_metadata",
        )
    )
    alembic(project, "revision", "--autogenerate", "-m", "create author and book")
    [first] = [p.stem for p in (project.root / "alembic/versions").glob("*.py")]
    return project.root / "alembic/versions" / f"{first}.py"


def point_manage_at(project: Project, versions: str) -> None:
    path = project.root / "pyproject.toml"
    path.write_text(path.read_text() + f'migrations = "{versions}"\n')


def test_a_hex_history_works_and_both_tools_agree(project: Project) -> None:
    first = alembic_project(project)
    hex_id = first.stem.split("_")[0]
    alembic(project, "upgrade", "head")
    point_manage_at(project, "alembic/versions")

    shown = project.run("showmigrations")
    project.edit("shop/models.py", "    title: Mapped[str]", PRICE)
    made = project.run("makemigrations")
    migrated = project.run("migrate")

    assert shown.stdout == f" [X] {hex_id} (head)\n"
    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[1] == "  alembic/versions/0002_add_book_price.py"
    assert migrated.exit_code == 0, migrated.output
    assert alembic(project, "current").strip() == "0002_add_book_price (head)"

    # ...and the other way round: plain alembic writes and applies, manage reads it.
    project.edit("shop/models.py", "    title: Mapped[str]", ISBN)
    alembic(project, "revision", "--autogenerate", "-m", "add isbn")
    alembic(project, "upgrade", "head")
    [third] = [
        p.stem.split("_")[0]
        for p in (project.root / "alembic/versions").glob("*.py")
        if p.stem.endswith("add_isbn")
    ]
    assert project.run("showmigrations").stdout.splitlines() == [
        f" [X] {hex_id}",
        " [X] 0002_add_book_price",
        f" [X] {third} (head)",
    ]
    assert project.run("makemigrations", "--check").exit_code == 0
    back = project.run("migrate", "0002")
    assert back.exit_code == 0, back.output
    assert alembic(project, "current").strip() == "0002_add_book_price"
    assert "isbn" not in project.columns("book")


def run_with_read_only(
    project: Project, folder: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run ``manage ARGS`` with ``folder`` read-only: a private read-only bind mount when root
    (root ignores file modes), the folder's write bits otherwise."""
    command = [str(BIN / "manage"), *args]
    if os.geteuid() != 0:
        return project.subprocess(*args)
    script = (
        f"mount --bind {shlex.quote(str(folder))} {shlex.quote(str(folder))} && "
        f"mount -o remount,bind,ro {shlex.quote(str(folder))} && exec {shlex.join(command)}"
    )
    return subprocess.run(
        ["unshare", "--mount", "sh", "-c", script],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )


def test_a_read_only_history_can_be_checked_and_applied(sqlite_project: Project) -> None:
    first = alembic_project(sqlite_project)
    point_manage_at(sqlite_project, "alembic/versions")
    versions = first.parent
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    if os.geteuid() == 0 and probe.returncode != 0:
        pytest.skip("running as root without mount namespaces: cannot make a folder read-only")
    for path in (versions, *versions.iterdir()):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = sorted(p.name for p in versions.iterdir())

    try:
        check = run_with_read_only(sqlite_project, versions, "makemigrations", "--check")
        migrate = run_with_read_only(sqlite_project, versions, "migrate")
        show = run_with_read_only(sqlite_project, versions, "showmigrations")
    finally:
        versions.chmod(0o755)

    assert check.returncode == 0, check.stderr
    assert check.stdout == "No changes detected\n"
    assert migrate.returncode == 0, migrate.stderr
    assert show.stdout == f" [X] {first.stem.split('_')[0]} (head)\n"
    assert sorted(p.name for p in versions.iterdir()) == before
