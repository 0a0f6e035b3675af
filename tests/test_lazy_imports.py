"""migrate and showmigrations load only what they use: not makemigrations' questions and
formatting, --update, or what sqlmigrate and squashmigrations run on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Project

PROBE = """
import sys
from manage.cli import main
sys.argv = ["manage", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(" ".join(sorted(m for m in sys.modules if m.startswith("manage."))), file=sys.stderr)
"""
NOT_NEEDED = {
    "manage.commands.update",
    "manage.core.questions",
    "manage.core.formatting",
    "manage.core.offline",
    "manage.core.schema.replayed",
}


def test_migrate_and_showmigrations_import_lazily(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    for command in (["migrate"], ["migrate"], ["showmigrations"]):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, *command],
            cwd=sqlite_project.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        loaded = set(done.stderr.split())
        assert "manage.commands.migrate" in loaded or command == ["showmigrations"], done.stderr
        assert loaded & NOT_NEEDED == set(), command


def test_options_left_at_their_defaults_do_not_import_pydantic(sqlite_project: Project) -> None:
    """Typer coerces option values through pydantic; manage skips that (~50 ms) for values that
    need no coercion, and a value given on the command line is still checked by Typer."""
    assert sqlite_project.run("makemigrations").exit_code == 0
    probe = PROBE.rsplit("print(", 1)[0] + 'print("pydantic" in sys.modules, file=sys.stderr)'

    def pydantic_imported(*command: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-c", probe, *command],
            cwd=sqlite_project.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.returncode, done.stderr.splitlines()[-1]

    assert pydantic_imported("migrate") == (0, "False")
    assert pydantic_imported("showmigrations") == (0, "False")
    assert pydantic_imported("migrate", "head", "--plan") == (0, "False")
    assert pydantic_imported("makemigrations", "--check", "-n", "x", "--dry-run") == (0, "False")
    assert pydantic_imported("-v", "2", "showmigrations") == (0, "True")  # an int to coerce

    too_verbose = sqlite_project.run("-v", "4", "showmigrations")
    not_a_number = sqlite_project.run("migrate", "--lock-timeout", "soon")
    assert too_verbose.exit_code == not_a_number.exit_code == 2
    assert "Input should be less than or equal to 3" in words(too_verbose.output)
    assert "Input should be a valid number" in words(not_a_number.output)


def words(output: str) -> str:
    """Rich's error box, unwrapped."""
    return " ".join(output.replace("│", " ").split())


def test_built_in_commands_keep_mako_from_importing_pygments(sqlite_project: Project) -> None:
    """Alembic's Mako imports Pygments (installed with Rich) for its HTML error pages, which no
    command shows; the shell runs the project's code, so there Mako is left alone."""
    from tests.cli.test_check_cache import imported

    def pygments_imported(*command: str) -> bool:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "manage", *command],
            cwd=sqlite_project.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return imported(done.stderr, "mako") and imported(done.stderr, "pygments")

    assert not pygments_imported("makemigrations")
    assert not pygments_imported("migrate")
    assert pygments_imported("shell", "-c", "import alembic.util.pyfiles")


def test_help_looks_for_plugins_without_importlib_metadata(tmp_path: Path) -> None:
    """No installed distribution declares a manage.commands entry point here: manage --help finds
    that by reading the entry_points.txt files, without importlib.metadata (~10 ms). With one
    declared, importlib.metadata loads it (tests/cli/test_project_commands.py)."""
    from tests.cli.test_check_cache import imported

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "manage", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert not imported(done.stderr, "importlib.metadata")
