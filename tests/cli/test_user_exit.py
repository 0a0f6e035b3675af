"""``sys.exit()`` in project code (a migration, the models) is an error: exit 3, naming the
file, never the exit code the project code chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import BIN, Project

FIRST = '''
"""first"""

import sqlalchemy as sa
from alembic import op

revision = "0001_author"
down_revision = None


def upgrade() -> None:
    op.create_table("author", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("author")
'''

EXITS = '''
"""exits"""

import sys

import sqlalchemy as sa
from alembic import op

revision = "0002_exits"
down_revision = "0001_author"


def upgrade() -> None:
    op.create_table("book", sa.Column("id", sa.Integer, primary_key=True))
    sys.exit({code})


def downgrade() -> None:
    op.drop_table("book")
'''


@pytest.mark.parametrize("code", ["0", "None", "'done'", "5"])
def test_a_migration_calling_sys_exit_fails_the_run(project: Project, code: str) -> None:
    project.write("migrations/0001_author.py", FIRST)
    project.write("migrations/0002_exits.py", EXITS.format(code=code))

    result = project.run("migrate")

    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines()[-2:] == [
        "  Applying 0001_author... OK",
        "  Applying 0002_exits...",
    ]
    note, error = result.stderr.split("\n", 1)  # issue 15: the replay met sys.exit() first
    assert note == (
        "Applying step by step, not in one pass: Migration 0002_exits calls "
        f"sys.exit({code}) when replayed."
    )
    assert error.startswith(
        "Error: Migration 0002_exits (migrations/0002_exits.py, line 14) failed while applying "
        f"sys.exit({code}): it called sys.exit({code}) ("
    ), result.stderr
    if project.dialect == "mariadb":
        assert "CREATE TABLE book" in result.stderr  # committed by MariaDB itself: said so
    else:
        assert "Its changes were rolled back; the database stays at 0001_author." in (result.stderr)
        assert "book" not in project.tables()
    assert project.version() == {"0001_author"}


def test_a_migration_calling_sys_exit_on_import_is_named(sqlite_project: Project) -> None:
    sqlite_project.write("migrations/0001_author.py", "import sys\nsys.exit(0)\n")

    result = sqlite_project.run("showmigrations")

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: Loading migration file migrations/0001_author.py failed: it called sys.exit(0) ("
    ), result.stderr


MODELS_EXIT = "import sys\nsys.exit(0)\n"


@pytest.mark.parametrize(
    "how", ["in-process", "console-script", "python-m", "console-script-cached"]
)
def test_models_calling_sys_exit_fail_makemigrations_check(
    sqlite_project: Project, how: str
) -> None:
    """A commit hook running ``makemigrations --check`` must not pass because the models
    exited 0; the launcher's fast paths (a cached answer) included."""
    assert sqlite_project.run("makemigrations").exit_code == 0
    if how == "console-script-cached":  # the launcher then answers from its caches
        assert sqlite_project.subprocess("makemigrations", "--check").returncode == 0
    models = sqlite_project.root / "shop/models.py"
    models.write_text(models.read_text() + MODELS_EXIT)

    if how == "in-process":
        result = sqlite_project.run("makemigrations", "--check")
        code, err = result.exit_code, result.stderr
    else:
        command = [sys.executable, "-m", "manage"] if how == "python-m" else [str(BIN / "manage")]
        done = subprocess.run(
            [*command, "makemigrations", "--check"],
            cwd=sqlite_project.root,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        code, err = done.returncode, done.stderr

    assert code == 3, err
    assert err.startswith("Error: Importing models 'shop.models' failed: it called sys.exit(0) (")
    assert "shop/models.py, line 25). Fix the error." in err
    assert "Traceback" not in err


def test_sys_exit_anywhere_else_in_project_code_is_an_error(sqlite_project: Project) -> None:
    """The in-memory replay of ``makemigrations --check`` runs upgrade() too: whatever path
    project code is called on, a sys.exit() in it ends the command with exit 3."""
    sqlite_project.write("migrations/0001_author.py", FIRST)
    sqlite_project.write("migrations/0002_exits.py", EXITS.format(code="0"))

    result = sqlite_project.run("makemigrations", "--check")

    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("Error: Project code stopped manage: it called sys.exit(0) (")
    assert result.stderr.endswith(
        "migrations/0002_exits.py, line 14). Remove the sys.exit() call (raise an exception to "
        "fail).\n"
    )


@pytest.mark.parametrize("code", [0, 2])
def test_the_shell_ends_with_the_code_the_user_gives(sqlite_project: Project, code: int) -> None:
    """In ``manage shell`` the user's own sys.exit() ends the shell, as in ``python -c``."""
    done = sqlite_project.subprocess("shell", "-c", f"import sys; sys.exit({code})")

    assert done.returncode == code, done.stderr
    assert done.stderr == ""
