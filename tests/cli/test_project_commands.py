"""Project commands ([tool.manage] commands), plugin commands (entry points) and call_command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import manage
from manage.commands import MigrateResult, ShowMigrationsResult
from manage.core.urls import mask_url
from tests.conftest import BIN, Project

COMMANDS = '''
"""The shop's own commands."""

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from manage import Context, command
from shop.models import Author, Base

Path("imported.marker").write_text("yes")

app = typer.Typer()
reports = typer.Typer(name="report", help="Reports about the shop.")
app.add_typer(reports)


@command()
def seed(
    ctx: Context, count: Annotated[int, typer.Option(help="How many authors.")] = 2
) -> int:
    """Load sample authors."""
    Base.metadata.create_all(ctx.engine)
    with ctx.session() as session, session.begin():
        session.add_all(Author(name=f"Author {n}") for n in range(count))
    print(f"Seeded {count} authors into {ctx.settings.display_url}")
    return count


@app.command()
def authors(ctx: Context) -> list[str]:
    """List the authors."""
    with ctx.session() as session:
        names = list(session.scalars(select(Author.name).order_by(Author.id)))
    for name in names:
        print(name)
    return names


@app.command("fail")
def fail_command() -> None:
    """Fail like a built-in command does."""
    from manage.errors import SettingsError

    raise SettingsError("Nothing to do here. Set up the shop first.")


@reports.command()
def sales() -> None:
    """Total sales."""
    print("No sales yet.")
'''


def with_commands(project: Project, *modules: str, text: str = COMMANDS) -> Project:
    project.write("shop/commands.py", text)
    listed = ", ".join(f'"{m}"' for m in modules or ("shop.commands",))
    project.edit("pyproject.toml", "[tool.manage]\n", f"[tool.manage]\ncommands = [{listed}]\n")
    return project


def plugin(folder: Path, dist: str, module: str, source: str, value: str | None = None) -> Path:
    """A real installed distribution (a .dist-info folder) adding commands via entry points."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[manage.commands]\n{dist} = {value or module}\n")
    return folder


GREET = """
    from manage import command

    @command(help="Greet someone.")
    def greet(name: str = "world") -> str:
        print(f"Hello, {name}!")
        return name
"""


def words(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def test_help_lists_project_commands_under_their_own_heading(sqlite_project: Project) -> None:
    with_commands(sqlite_project)

    result = sqlite_project.run("--help")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    commands, project_commands = result.stdout.split("Project commands")
    assert "migrate" in commands and "seed" not in commands
    assert "seed Load sample authors." in words(project_commands)
    assert "authors List the authors." in words(project_commands)
    assert "report Reports about the shop." in words(project_commands)
    assert "migrate" not in project_commands


def test_a_project_command_gets_settings_engine_and_sessions(project: Project) -> None:
    with_commands(project)

    seeded = project.run("seed", "--count", "3")
    listed = project.run("authors")

    assert seeded.exit_code == 0, seeded.output
    assert seeded.stdout == f"Seeded 3 authors into {mask_url(project.database_url)}\n"
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == "Author 0\nAuthor 1\nAuthor 2\n"
    assert project.tables() == {"author", "book"}


def test_typer_groups_options_and_errors_of_project_commands(sqlite_project: Project) -> None:
    with_commands(sqlite_project)

    group = sqlite_project.run("report", "sales")
    bad_option = sqlite_project.run("seed", "--bogus")
    failed = sqlite_project.run("fail")

    assert (group.exit_code, group.stdout) == (0, "No sales yet.\n")
    assert bad_option.exit_code == 2
    assert "No such option: --bogus" in words(bad_option.stderr)
    assert failed.exit_code == 3
    assert failed.stderr == "Error: Nothing to do here. Set up the shop first.\n"


def test_built_in_commands_do_not_import_the_command_modules(sqlite_project: Project) -> None:
    with_commands(sqlite_project)

    result = sqlite_project.subprocess("showmigrations")

    assert result.returncode == 0, result.stderr
    assert not (sqlite_project.root / "imported.marker").exists()
    assert sqlite_project.subprocess("seed").returncode == 0
    assert (sqlite_project.root / "imported.marker").exists()


def test_help_outside_a_project_imports_neither_sqlalchemy_nor_alembic(tmp_path: Path) -> None:
    # Nor pydantic, which Typer imports to process any option before --help.
    script = "import sys; from manage.cli import main; sys.argv = ['manage', '--help']\n"
    script += "try:\n    main()\nexcept SystemExit:\n    pass\n"
    script += (
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('sqlalchemy', 'alembic', 'pydantic')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("[]")


def test_a_clash_with_a_built_in_command_names_both(sqlite_project: Project) -> None:
    with_commands(
        sqlite_project,
        text="from manage import command\n\n@command()\ndef migrate() -> None:\n    pass\n",
    )

    help_ = sqlite_project.run("--help")
    unknown = sqlite_project.run("seed")
    builtin = sqlite_project.run("migrate")

    message = (
        "The command 'migrate' of project module 'shop.commands' clashes with the built-in "
        "command 'migrate' of manage. Rename it, e.g. @command(name=\"migrate-project\")."
    )
    assert help_.exit_code == 0
    assert words(help_.stderr) == f"Warning: {message} The built-in commands still work."
    assert "Project commands" not in help_.stdout
    assert (unknown.exit_code, unknown.stderr) == (3, f"Error: {message}\n")
    assert builtin.exit_code == 0, builtin.output  # the built-in one, unaffected


def test_a_module_that_fails_to_import_is_named_and_built_ins_still_work(
    sqlite_project: Project,
) -> None:
    with_commands(sqlite_project, text="import shop.nothing_here\n")

    help_ = sqlite_project.run("--help")
    run = sqlite_project.run("seed")
    builtin = sqlite_project.run("makemigrations")

    message = (
        "Importing project commands module 'shop.commands' failed: ModuleNotFoundError: No "
        f"module named 'shop.nothing_here' ({sqlite_project.root}/shop/commands.py, line 1). "
        "Fix the import error."
    )
    assert help_.exit_code == 0 and "makemigrations" in help_.stdout
    assert words(help_.stderr) == f"Warning: {message} The built-in commands still work."
    assert (run.exit_code, run.stderr) == (3, f"Error: {message}\n")
    assert builtin.exit_code == 0 and sqlite_project.migrations() == ["0001_initial.py"]


def test_a_plugin_adds_commands_through_entry_points(
    sqlite_project: Project, tmp_path: Path
) -> None:
    site = plugin(tmp_path / "site", "greeter", "greeter", GREET)
    env = {"PYTHONPATH": str(site)}

    help_ = sqlite_project.subprocess("--help", env={**env, "COLUMNS": "80"})
    greet = sqlite_project.subprocess("greet", "--name", "Ada", env=env)
    outside = sqlite_project.subprocess("greet", env=env, cwd=tmp_path)

    assert help_.returncode == 0, help_.stderr
    assert "Plugin commands" in help_.stdout
    assert "greet Greet someone." in words(help_.stdout.split("Plugin commands")[1])
    assert (greet.returncode, greet.stdout) == (0, "Hello, Ada!\n")
    assert (outside.returncode, outside.stdout) == (0, "Hello, world!\n")


def test_a_plugin_clashing_with_a_project_command_names_both(
    sqlite_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_commands(sqlite_project, text=textwrap.dedent(GREET))
    monkeypatch.syspath_prepend(str(plugin(tmp_path / "site", "greeter", "greeter", GREET)))

    result = sqlite_project.run("greet")

    assert result.exit_code == 3
    assert result.stderr == (
        "Error: Two commands are named 'greet': one in project module 'shop.commands', one in "
        "plugin 'greeter' (entry point 'greeter = greeter'). "
        "Rename one of them (or uninstall the plugin).\n"
    )


def test_a_plugin_that_fails_to_load_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = plugin(tmp_path / "site", "broken", "broken", "raise RuntimeError('no luck')\n")
    monkeypatch.syspath_prepend(str(site))

    result = Project(tmp_path, "", "sqlite").run("greet")

    assert result.exit_code == 3
    assert result.stderr.startswith(
        "Error: Could not load the commands of plugin 'broken' (entry point 'broken = broken'): "
        "RuntimeError: no luck ("
    )
    assert result.stderr.endswith("). Fix or uninstall 'broken'.\n")


def test_call_command_runs_built_in_and_project_commands(
    sqlite_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with_commands(sqlite_project)
    assert sqlite_project.run("makemigrations").exit_code == 0

    migrated = manage.call_command("migrate")
    shown = manage.call_command("showmigrations")
    seeded = manage.call_command("seed", count=1)
    authors = manage.call_command("authors")

    assert isinstance(migrated, MigrateResult)
    assert [step.revision for step in migrated.steps] == ["0001_initial"]
    assert isinstance(shown, ShowMigrationsResult) and shown.migrations[0].applied
    assert (seeded, authors) == (1, ["Author 0"])
    assert capsys.readouterr().out.endswith("Author 0\n")


def test_call_command_raises_instead_of_exiting(sqlite_project: Project) -> None:
    with_commands(sqlite_project)

    with pytest.raises(manage.ManageError, match="Set up the shop first"):
        manage.call_command("fail")
    with pytest.raises(manage.ManageError, match=r"^Unknown command 'nope'\. Available commands: "):
        manage.call_command("nope")
    with pytest.raises(manage.ManageError, match="Invalid arguments for command 'migrate'"):
        manage.call_command("migrate", bogus=True)
    with pytest.raises(manage.ManageError, match="Unknown migration '9999'"):
        manage.call_command("migrate", "9999")


def test_commands_of_a_settings_module(sqlite_project: Project) -> None:
    sqlite_project.write("shop/commands.py", COMMANDS)
    sqlite_project.write(
        "shop/settings.py", 'MODELS = "shop.models:Base"\nCOMMANDS = ["shop.commands"]\n'
    )
    env = {**os.environ, "MANAGE_SETTINGS_MODULE": "shop.settings"}

    result = subprocess.run(
        [str(BIN / "manage"), "seed", "--count", "1"],
        cwd=sqlite_project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Seeded 1 authors into sqlite:///")


def test_a_plugin_entry_point_may_name_a_typer_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
        import typer

        app = typer.Typer()
        NOT_A_COMMAND = 42

        @app.command()
        def wave(times: int = 1) -> None:
            print("wave " * times)
    """
    monkeypatch.syspath_prepend(str(plugin(tmp_path / "a", "waver", "waver", source, "waver:app")))
    outside = Project(tmp_path, "", "sqlite")

    result = outside.run("wave", "--times", "2")

    assert (result.exit_code, result.stdout) == (0, "wave wave \n")
    monkeypatch.syspath_prepend(
        str(plugin(tmp_path / "b", "odd", "odd", "VALUE = 42\n", "odd:VALUE"))
    )
    odd = outside.run("wave")
    assert odd.exit_code == 3
    assert odd.stderr == (
        "Error: The plugin 'odd' (entry point 'odd = odd:VALUE') is neither a module, a Typer "
        "app nor an @command function. Point the entry point at one of them.\n"
    )


UNRESOLVED = '''
from __future__ import annotations

from typing import TYPE_CHECKING

from manage import command

if TYPE_CHECKING:
    from decimal import Decimal


@command()
def price(amount: Decimal) -> None:
    """Show a price."""
'''


def test_a_command_whose_type_hints_do_not_resolve_is_named(sqlite_project: Project) -> None:
    with_commands(sqlite_project, text=UNRESOLVED)

    help_ = sqlite_project.run("--help")
    run = sqlite_project.run("price", "1")
    builtin = sqlite_project.run("showmigrations")

    message = (
        "The type hints of the command function shop.commands.price "
        f"({sqlite_project.root}/shop/commands.py, line 11) do not resolve: NameError: "
        "name 'Decimal' is not defined. "
    )
    assert help_.exit_code == 0 and "makemigrations" in help_.stdout
    assert words(help_.stderr).startswith(f"Warning: {message}")
    assert words(help_.stderr).endswith(
        "Import the names its parameters use at run time (not only under TYPE_CHECKING). "
        "The built-in commands still work."
    )
    assert run.exit_code == 3 and run.stderr.startswith(f"Error: {message}")
    assert builtin.exit_code == 0, builtin.output
    with pytest.raises(manage.ManageError, match=r"shop\.commands\.price \(.*\) do not resolve"):
        manage.call_command("price", 1)


def test_a_command_typer_cannot_build_is_named(sqlite_project: Project) -> None:
    text = "from manage import command\n\n@command()\n"
    text += "def odd(value: list[list[int]]) -> None:\n    pass\n"
    with_commands(sqlite_project, text=text)

    run = sqlite_project.run("odd")

    assert run.exit_code == 3
    assert run.stderr.startswith(
        "Error: The command 'odd' of project module 'shop.commands' (shop.commands.odd) cannot "
        "be built: AssertionError: List types with complex sub-types are not currently supported"
    )
    assert run.stderr.endswith("Fix its parameters and their type hints.\n")


def test_project_commands_may_not_take_a_built_in_name(sqlite_project: Project) -> None:
    with_commands(
        sqlite_project, text="from manage import command\n\n@command()\ndef init():\n    pass\n"
    )

    result = sqlite_project.run("seed")

    assert result.exit_code == 3
    assert "clashes with the built-in command 'init' of manage" in result.stderr
    from manage.cli import app as cli_app
    from manage.registry import BUILTINS

    typer_commands = [info.name for info in cli_app.registered_commands]
    assert typer_commands == list(BUILTINS)  # the app's commands are the registry's, in order


def test_help_after_dash_c_lists_that_projects_commands(
    sqlite_project: Project, tmp_path: Path
) -> None:
    with_commands(sqlite_project)
    elsewhere = Project(tmp_path, "", "sqlite")
    os.chdir(tmp_path)  # outside the project

    before = elsewhere.run("--help", "-C", str(sqlite_project.root))
    after = elsewhere.run("-C", str(sqlite_project.root), "--help")

    assert before.exit_code == 0, before.output
    assert "Project commands" in before.stdout and "seed" in before.stdout
    assert before.stdout == after.stdout


def test_call_command_runs_a_plugin_command_outside_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(plugin(tmp_path / "site", "greeter", "greeter", GREET)))
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)

    assert manage.call_command("greet", name="Ada") == "Ada"
    assert capsys.readouterr().out == "Hello, Ada!\n"
    with pytest.raises(manage.ManageError, match=r"No \[tool.manage\] table"):
        manage.call_command("migrate")


def test_the_cli_imports_no_private_typer_module_at_run_time() -> None:
    import ast

    import typer

    # The CLI's type hints name Typer's vendored Click classes through manage/compat.py, the one
    # home of private touches (tests/test_compat.py pins them).
    package = Path(manage.cli.__file__).parent
    paths = [*package.glob("*.py"), package.parent / "compat.py"]
    trees = [ast.parse(path.read_text()) for path in paths]
    type_only = [
        node
        for tree in trees
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    private = [
        node.module
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith(("typer._", "click"))
    ]
    hinted = [
        node.module
        for block in type_only
        for node in ast.walk(block)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("typer._")
    ]
    assert set(private) == set(hinted) == {"typer._click.core"}  # only for type hints
    # ... which Typer has from 0.26 on (it vendored Click then): the lowest version allowed.
    pyproject = Path(manage.cli.__file__).parents[2] / "pyproject.toml"
    assert '"typer>=0.26",' in pyproject.read_text()
    # What those hints name is what Typer hands manage at run time.
    from typer._click.core import Command, Context

    assert issubclass(typer.Context, Context)
    assert issubclass(typer.core.TyperGroup, Command)
