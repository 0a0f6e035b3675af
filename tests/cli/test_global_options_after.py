"""Global options after the command, as Django users type them (issue 12 point 12):
``manage migrate -v 2``, ``manage showmigrations --settings x``, ``--database-url``,
``--traceback``, ``--no-color`` and ``-C DIR`` mean what they mean before the command; given in
both places, the later one wins; a command's own option of the same name stays its own."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from manage.cli import app
from tests.cli.test_quick import FAST, FULL, compare
from tests.conftest import Project, forget_modules

APPLIED = "  Applying 0001_initial... OK\n"


def test_verbosity_after_the_command(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    quiet = sqlite_project.run("migrate", "-v", "0")
    loud = sqlite_project.run("showmigrations", "--verbosity=2")

    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == APPLIED  # no headings at verbosity 0
    assert loud.exit_code == 0, loud.output
    assert loud.stderr.startswith(f"Project: {sqlite_project.root}\n  models = shop.models:Base")


def test_given_before_and_after_the_later_wins(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    later_loud = sqlite_project.run("-v", "0", "migrate", "-v", "2")
    later_quiet = sqlite_project.run("-v", "2", "showmigrations", "-v0")

    assert later_loud.exit_code == 0, later_loud.output
    assert later_loud.stderr.startswith("Project: ")
    assert "Operations to perform:" in later_loud.stdout
    assert later_quiet.exit_code == 0, later_quiet.output
    assert later_quiet.stderr == ""


def test_settings_after_the_command(sqlite_project: Project) -> None:
    sqlite_project.write("shop/settings.py", 'MODELS = "shop.models:Base"\nMIGRATIONS = "other"\n')
    assert sqlite_project.run("makemigrations", "--settings", "shop.settings").exit_code == 0

    shown = sqlite_project.run("showmigrations", "--settings", "shop.settings")
    missing = sqlite_project.run("showmigrations", "--settings=shop.nope")

    assert sqlite_project.migrations() == []  # written in other/, as the settings say
    assert (sqlite_project.root / "other" / "0001_initial.py").is_file()
    assert (shown.exit_code, shown.stdout) == (0, " [ ] 0001_initial (head)\n")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("Error: Could not import settings module 'shop.nope'")
    assert missing.stdout == ""


def test_database_url_after_the_command(sqlite_project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    assert sqlite_project.run("makemigrations").exit_code == 0

    result = sqlite_project.run("migrate", "--database-url", f"sqlite:///{other}")

    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{other}", poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert {"author", "book"} <= set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert not sqlite_project.database_exists()  # the default database was left alone


def test_traceback_after_the_command(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    plain = sqlite_project.run("migrate", "9999")
    traced = sqlite_project.run("migrate", "9999", "--traceback")

    assert (plain.exit_code, traced.exit_code) == (3, 3)
    assert plain.stderr.startswith("Error: Unknown migration '9999'")
    assert traced.stderr.startswith("Traceback (most recent call last):")
    assert traced.stderr.endswith(plain.stderr)


def test_no_color_after_the_command(sqlite_project: Project) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    runner = CliRunner()

    coloured = runner.invoke(app, ["migrate", "--plan"], color=True)
    plain = runner.invoke(app, ["migrate", "--plan", "--no-color"], color=True)

    assert coloured.exit_code == plain.exit_code == 0
    assert "\x1b[" in coloured.stdout
    assert plain.stdout == "Planned operations:\n  Apply 0001_initial\n"


def test_project_folder_after_the_command(sqlite_project: Project, tmp_path: Path) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0
    outside = Project(tmp_path, "", "sqlite")
    forget_modules(sqlite_project.root)

    result = outside.run("showmigrations", "-C", str(sqlite_project.root))
    attached = outside.run("showmigrations", f"-C{sqlite_project.root}")

    assert (result.exit_code, result.stdout) == (0, " [ ] 0001_initial (head)\n")
    assert attached.stdout == result.stdout


def test_a_commands_own_option_and_its_values_stay_its_own(sqlite_project: Project) -> None:
    sqlite_project.write(
        "shop/commands.py",
        "import typer\nfrom manage import command\n\n"
        "@command()\ndef seed(verbose: bool = typer.Option(False, '-v')) -> None:\n"
        "    print('verbose' if verbose else 'quiet')\n",
    )
    sqlite_project.edit(
        "pyproject.toml", "[tool.manage]\n", '[tool.manage]\ncommands = ["shop.commands"]\n'
    )

    own = sqlite_project.run("seed", "-v")
    with_global = sqlite_project.run("seed", "--no-color", "-C", ".", "-v")
    code = sqlite_project.run("shell", "-c", "-v")  # -v is -c's value: the code to run

    assert (own.exit_code, own.stdout) == (0, "verbose\n")
    assert (with_global.exit_code, with_global.stdout) == (0, "verbose\n")
    assert code.exit_code == 1
    assert "NameError: name 'v' is not defined" in code.stderr


def test_a_project_commands_error_with_traceback_after_it(sqlite_project: Project) -> None:
    sqlite_project.write(
        "shop/commands.py",
        "from manage import ManageError, command\n\n"
        "@command()\ndef fail() -> None:\n    raise ManageError('Set up the shop first.')\n",
    )
    sqlite_project.edit(
        "pyproject.toml", "[tool.manage]\n", '[tool.manage]\ncommands = ["shop.commands"]\n'
    )

    result = sqlite_project.run("fail", "--traceback")

    assert result.exit_code == 3
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.endswith("\nError: Set up the shop first.\n")


def test_the_console_script_understands_them_or_falls_through(sqlite_project: Project) -> None:
    """Through the launcher (``python -m manage``) and the full CLI alike: ``--no-color`` after
    the command is still answered fast; ``-v 0`` changes the output, so the full CLI answers."""
    assert sqlite_project.run("makemigrations").exit_code == 0
    assert sqlite_project.run("migrate").exit_code == 0

    no_color = compare(sqlite_project, "showmigrations", "--no-color")
    quiet = compare(sqlite_project, "migrate", "-v", "0")
    both = compare(sqlite_project, "--no-color", "migrate", "--no-color")

    assert (no_color.code, no_color.stdout, no_color.heavy) == (
        0,
        " [X] 0001_initial (head)\n",
        FAST,
    )
    assert (quiet.code, quiet.stdout, quiet.heavy) == (0, "  No migrations to apply.\n", FULL)
    assert both.stdout.startswith("Operations to perform:\n") and both.heavy == FAST


def test_the_installed_console_script_takes_them_after_the_command(
    sqlite_project: Project,
) -> None:
    assert sqlite_project.run("makemigrations").exit_code == 0

    checked = sqlite_project.subprocess("makemigrations", "--check", "--no-color")
    verbose = sqlite_project.subprocess("makemigrations", "--check", "-v", "2")
    wrong = sqlite_project.subprocess("makemigrations", "--check", "--settings", "shop.nope")
    usage = sqlite_project.subprocess("migrate", "-v", "9")

    assert (checked.returncode, checked.stdout) == (0, "No changes detected\n")
    assert (verbose.returncode, verbose.stdout) == (0, "No changes detected\n")
    assert verbose.stderr.startswith("Project: ")
    assert wrong.returncode == 3
    assert wrong.stderr.startswith("Error: Could not import settings module 'shop.nope'")
    assert usage.returncode == 2
    assert "Invalid value for '-v' / '--verbosity'" in usage.stderr
