"""The ``manage`` command line: parses options, calls manage.commands, prints, sets exit codes."""

from __future__ import annotations

import dataclasses
import inspect
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from manage import __version__, launcher
from manage.errors import ManageError

if TYPE_CHECKING:
    # Private Typer names for type hints only (Typer >= 0.26 vendors Click as typer._click). At
    # run time manage uses Typer's public API, except the guarded coercion shortcut below
    # (_coerce_lightly).
    from typer._click.core import Command, Context, Parameter

    from manage.commands import (
        CheckResult,
        MakeMigrationsResult,
        MigrateResult,
        ShowMigrationsResult,
    )
    from manage.core.migrations.types import Step
    from manage.core.plugins import ProjectCommand, ProjectCommands
    from manage.core.settings import Settings


class ManageGroup(TyperGroup):
    """The root command: the built-in commands, then the project's and plugins' ones on demand.

    Project modules are imported only for ``--help`` and for a name that is not built in, so that
    ``manage migrate`` never imports them.
    """

    def get_params(self, ctx: Context) -> list[Parameter]:
        params = super().get_params(ctx)
        for param in params:
            _coerce_lightly(param)
        return params

    def list_commands(self, ctx: Context) -> list[str]:
        names = super().list_commands(ctx)
        return names + [name for name in self._extra(ctx, strict=False) if name not in names]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            return self._extra(ctx, strict=True).get(cmd_name)
        for param in found.get_params(ctx):
            _coerce_lightly(param)
        return found

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        # --help runs before the other options are processed (processing one makes Typer
        # import pydantic): -C/--settings are read from the raw arguments instead.
        ctx.meta["manage.args"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except ManageError:  # raised by a project command
            with reporting(ctx.obj if isinstance(ctx.obj, CliState) else CliState()):
                raise

    def _extra(self, ctx: Context, *, strict: bool) -> dict[str, Command]:
        if "manage.extra" not in ctx.meta:
            from manage.api import BUILTIN_COMMANDS
            from manage.core.plugins import configured_modules, find_commands
            from manage.errors import ProjectCommandError

            try:
                params, raw = ctx.params, ctx.meta.get("manage.args", [])
                project = params.get("project") or _raw_option(raw, "-C", "--project")
                configured = configured_modules(
                    params.get("settings") or _raw_option(raw, "--settings"), project
                )
                root, modules = configured or (None, ())
                builtin = {*super().list_commands(ctx), *BUILTIN_COMMANDS}
                found = find_commands(modules, root, builtin=builtin)
                ctx.meta["manage.extra"] = _click_commands(found)
            except Exception as exc:
                if not isinstance(exc, ManageError):
                    from manage.core.settings import describe_exception

                    exc = ProjectCommandError(
                        f"Loading the project and plugin commands failed: "
                        f"{describe_exception(exc)}. Fix the error."
                    )
                ctx.meta["manage.extra"] = {}
                ctx.meta["manage.extra_error"] = exc
        error = ctx.meta.get("manage.extra_error")
        if error is not None and not ctx.meta.get("manage.extra_reported"):
            ctx.meta["manage.extra_reported"] = True
            state = CliState(color=False if ctx.params.get("no_color") else None)
            if strict:
                with reporting(state):
                    raise error
            state.note(f"Warning: {error} The built-in commands still work.")
        extra: dict[str, Command] = ctx.meta["manage.extra"]
        return extra


class _LightCoercion:
    """Typer coerces every option's value through a pydantic ``TypeAdapter``, built on first use
    even for an option left at its default: that imports pydantic (~50 ms) on every run. This
    passes through the values that need no coercion (an absent value, a ``str`` for a ``str``
    option, an in-range ``int`` default) and hands any other value to Typer's own coercion, so
    a value given on the command line is checked, and reported, exactly as Typer does.
    """

    def __init__(self, param: Any) -> None:
        self.param = param

    def coerce(self, value: Any, param: Any, ctx: Context) -> Any:
        if value is None:
            return () if param.multiple or param.nargs == -1 else None
        annotation = param.type_descriptor.annotation
        if annotation is str and type(value) is str:
            return value
        if annotation is int and type(value) is int and _in_range(value, param):
            return value
        param._runtime_param = None  # Typer builds its own coercion from here on
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def _in_range(value: int, param: Any) -> bool:
    return (param.min is None or value >= param.min) and (param.max is None or value <= param.max)


def _coerce_lightly(param: Any) -> None:
    """Give one of Typer's parameters the light coercion above (private Typer attributes: when a
    Typer release no longer has them the parameter keeps Typer's own coercion, and
    tests/test_lazy_imports.py notices the pydantic import)."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if (
        info is None
        or getattr(param, "_runtime_param", False) is not None
        or not hasattr(param, "get_runtime_param")
        or getattr(info, "parser", None) is not None
        or getattr(info, "click_type", None) is not None
    ):
        return
    param._runtime_param = _LightCoercion(param)


def _raw_option(args: list[str], *names: str) -> str | None:
    """The value of a global option in the raw arguments (before the command name)."""
    for index, arg in enumerate(args):
        if not arg.startswith("-"):
            return None  # the command: what follows is its own
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def _click_commands(found: ProjectCommands) -> dict[str, Command]:
    """Typer commands for what the project and plugins define, each in its help panel.

    Raises:
        ProjectCommandError: a command cannot be built (e.g. a type hint that does not resolve),
            naming the function and where it comes from.
    """
    commands: dict[str, Command] = {}
    for item in found.commands.values():
        try:
            commands.update(_click_command(item))
        except ManageError:
            raise
        except Exception as exc:
            from manage.core.settings import describe_exception
            from manage.errors import ProjectCommandError

            target = item.callback if item.callback is not None else item.instance
            where = getattr(target, "__module__", "?")
            name = getattr(target, "__qualname__", None) or item.name
            raise ProjectCommandError(
                f"The command '{item.name}' of {item.origin} ({where}.{name}) cannot be built: "
                f"{describe_exception(exc)}. Fix its parameters and their type hints."
            ) from exc
    return commands


def _click_command(item: ProjectCommand) -> dict[str, Command]:
    import copy

    holder = typer.Typer()
    if item.app is None:
        holder.command(name=item.name, help=item.help, rich_help_panel=item.panel)(
            _with_context(item.callback)
        )
        return dict(typer.main.get_group(holder).commands)
    infos = item.app.registered_groups if item.group else item.app.registered_commands
    for info in infos:
        if item.group and (info.name or info.typer_instance.info.name) != item.name:
            continue
        if not item.group and info.callback is not item.callback:
            continue
        info = copy.copy(info)
        info.rich_help_panel = info.rich_help_panel or item.panel
        if item.group:
            holder.registered_groups.append(info)
        else:
            info.name, info.callback = item.name, _with_context(info.callback)
            holder.registered_commands.append(info)
    if item.group and item.app.info.name == item.name:
        holder.add_typer(item.app, rich_help_panel=item.panel)
    if not holder.registered_commands and not holder.registered_groups:
        return {}
    return dict(typer.main.get_group(holder).commands)


_CONTEXT_PARAMETER = "manage_typer_context"


def _with_context(function: Any) -> Any:
    """``function`` with its ``manage.Context`` parameters filled in, hidden from Typer."""
    from manage.core.plugins import Context as ProjectContext
    from manage.core.plugins import context_parameters

    signature, wanted = context_parameters(function)
    if not wanted:
        return function

    def run(**kwargs: Any) -> Any:
        state = kwargs.pop(_CONTEXT_PARAMETER).find_root().obj
        context = ProjectContext(state.settings)
        try:
            return function(**kwargs, **dict.fromkeys(wanted, context))
        finally:
            context.close()

    kept = [p for p in signature.parameters.values() if p.name not in wanted]
    # Typer passes its Context to a parameter annotated with typer.Context (public API).
    keyword = inspect.Parameter.KEYWORD_ONLY
    kept.append(inspect.Parameter(_CONTEXT_PARAMETER, keyword, annotation=typer.Context))
    run.__name__, run.__doc__ = function.__name__, function.__doc__
    run.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in kept}
    return run


app = typer.Typer(
    name="manage",
    cls=ManageGroup,
    help="Django's manage.py for SQLAlchemy projects: makemigrations, migrate, showmigrations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclasses.dataclass
class CliState:
    """The global options, and the Settings loaded from them on first use."""

    settings_module: str | None = None
    database_url: str | None = None
    project: Path | None = None
    verbosity: int = 1
    traceback: bool = False
    color: bool | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            from manage.core.settings import load_settings

            self._settings = load_settings(
                self.settings_module, cwd=self.project, database_url=self.database_url
            )
            if self.verbosity >= 2:
                self.note(f"Project: {self._settings.project_root}")
                for name, value, source in self._settings.describe()[1:]:
                    self.note(f"  {name} = {value}  ({source})")
        return self._settings

    def echo(self, text: str = "", *, err: bool = False, **style: Any) -> None:
        typer.echo(typer.style(text, **style) if style else text, err=err, color=self.color)

    def heading(self, text: str) -> None:
        self.echo(text, bold=True, fg="cyan")

    def note(self, text: str) -> None:
        self.echo(text, err=True, fg="yellow")

    def error(self, text: str) -> None:
        self.echo(text, err=True, fg="red")


@contextmanager
def reporting(state: CliState, *, exits_allowed: bool = False) -> Iterator[None]:
    """The one place a ManageError becomes ``Error: ...`` on stderr and an exit code.

    A ``sys.exit()`` from project code is an error too, unless ``exits_allowed`` (``shell``,
    where the user's ``exit()`` or ``-c "sys.exit(2)"`` ends the shell as in Python)."""
    try:
        yield
    except ManageError as exc:
        if state.traceback:
            import traceback

            from manage.core.redact import redact

            # The SQL in it may carry a password (IDENTIFIED BY '...').
            sys.stderr.write(redact(traceback.format_exc()))
        state.error(f"Error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except SystemExit as exc:  # issue 12 point 5 (safety1): manage itself never raises it
        from manage.core.settings import project_exit
        from manage.light.signals import Terminated

        if exits_allowed or isinstance(exc, Terminated):
            raise

        state.error(f"Error: {project_exit(exc)}")
        raise typer.Exit(3) from None


def report_error(error: ManageError) -> NoReturn:
    """Print ``error`` as every command does, and exit with its code (for manage.launcher)."""
    try:
        with reporting(CliState()):
            raise error
    except typer.Exit as done:
        sys.exit(done.exit_code)
    raise AssertionError("reporting() exits")  # pragma: no cover


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sqlalchemy-manage {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    settings: Annotated[
        str | None,
        typer.Option(
            "--settings",
            metavar="MODULE",
            help="Settings module, e.g. shop.settings.",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", metavar="URL", help="Overrides DATABASE_URL and settings."),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("-C", "--project", metavar="DIR", help="Run as if started in DIR."),
    ] = None,
    verbosity: Annotated[
        int,
        typer.Option(
            "-v", "--verbosity", min=0, max=3, help="0 quiet, 1 normal, 2 settings, 3 all."
        ),
    ] = 1,
    show_traceback: Annotated[
        bool, typer.Option("--traceback", help="Show the traceback of errors.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Do not colour the output.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Django's manage.py for SQLAlchemy projects, with Alembic underneath."""
    ctx.obj = CliState(
        settings, database_url, project, verbosity, show_traceback, False if no_color else None
    )


def _check_name(name: str | None) -> str | None:
    if name is None:
        return None
    from manage.core.revisions import name_problem

    if problem := name_problem(name):
        raise typer.BadParameter(problem)
    return name


def _dialects(values: list[str] | None) -> list[str] | None:
    known = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle")
    for value in values or ():
        if value not in known:
            raise typer.BadParameter(f"{value!r} is not a dialect; use one of {', '.join(known)}.")
    return values


def _start_end(values: list[str]) -> list[str]:
    if len(values) > 2:
        raise typer.BadParameter("give END, or START and END.")
    return values


def _pairs(values: list[str] | None) -> list[str] | None:
    for value in values or ():
        key, sep, answer = value.partition("=")
        if not sep or not key or not answer:
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE, e.g. book.title=book.name.")
    return values


@app.command()
def makemigrations(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Option("-n", "--name", callback=_check_name, help="Name the migration."),
    ] = None,
    empty: Annotated[bool, typer.Option("--empty", help="Write an empty migration.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if the models have unmigrated changes."
        ),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be written.")] = False,
    merge: Annotated[
        bool, typer.Option("--merge", help="Write a migration joining several heads.")
    ] = False,
    update: Annotated[
        bool,
        typer.Option("--update", help="Fold the changes into the latest, unapplied migration."),
    ] = False,
    sql: Annotated[
        bool, typer.Option("--sql", help="With --empty: run .sql files beside the migration.")
    ] = False,
    dialect: Annotated[
        list[str] | None,
        typer.Option(
            "--dialect",
            metavar="NAME",
            callback=_dialects,
            help="With --sql: one pair of .sql files per dialect (postgresql, sqlite, mysql...).",
        ),
    ] = None,
    no_input: Annotated[
        bool,
        typer.Option(
            "--no-input", help="Never prompt: merge without asking; answer with --rename/--default."
        ),
    ] = False,
    rename: Annotated[
        list[str] | None,
        typer.Option(
            "--rename",
            metavar="OLD=NEW",
            callback=_pairs,
            help="Answer a rename question: book.title=book.name, or author=writer for a table.",
        ),
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option(
            "--default",
            metavar="TABLE.COLUMN=VALUE",
            callback=_pairs,
            help="One-off default for existing rows of a new NOT NULL column (Python or SQL).",
        ),
    ] = None,
) -> None:
    """Create a migration from the changes to the models."""
    from manage import commands
    from manage.core.questions import Questioner

    state: CliState = ctx.obj
    with reporting(state):
        questioner = Questioner(
            dict(p.split("=", 1) for p in rename or ()),
            dict(p.split("=", 1) for p in default or ()),
            confirm=None if no_input else _confirmer(False),
            ask_default=None if no_input else _default_asker(state),
        )
        result = commands.makemigrations(
            state.settings(), name=name, empty=empty, check=check, dry_run=dry_run, merge=merge,
            confirm=_confirmer(no_input), on_notice=state.note, questioner=questioner,
            update=update, sql=sql, sql_dialects=tuple(dialect or ()),
        )  # fmt: skip
        _print_makemigrations(state, result, check=check, merge=merge)
        if check and name is None:
            _remember_check(state, result)
    if check and result.operations:
        raise typer.Exit(1)


@app.command()
def migrate(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help='"head", a migration id or prefix, or "zero" to unapply all.')
    ] = "head",
    fake: Annotated[
        bool, typer.Option("--fake", help="Record the target without running SQL.")
    ] = False,
    plan: Annotated[
        bool, typer.Option("--plan", help="List the migrations that would run.")
    ] = False,
    sql: Annotated[
        bool, typer.Option("--sql", help="Print the SQL offline (FROM:TO allowed).")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if migrations are unapplied.")
    ] = False,
    fake_initial: Annotated[
        bool,
        typer.Option("--fake-initial", help="Record the first migration if its tables exist."),
    ] = False,
    lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            min=0,
            help="Give up after waiting this long for another migrate (default: wait).",
        ),
    ] = None,
    allow_data_loss: Annotated[
        bool,
        typer.Option(
            "--allow-data-loss", help="Unapply even when that drops tables or columns with rows."
        ),
    ] = False,
) -> None:
    """Update the database schema to match the migrations."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        out = _MigrateOutput(state, target, quiet=plan or check or sql)
        try:
            result = commands.migrate(
                state.settings(), target, fake=fake, plan=plan, sql=sql, check=check,
                fake_initial=fake_initial, on_start=out.started, on_done=out.done,
                on_faked=out.faked, lock_timeout=lock_timeout,
                on_wait=lambda: state.note("Waiting for another manage migrate to finish..."),
                allow_data_loss=allow_data_loss, confirm_data_loss=_data_loss_prompt(state),
            )  # fmt: skip
        finally:
            out.end_line()
        out.result(result, check=check, sql=sql)
    if check and result.steps:
        raise typer.Exit(1)


@app.command()
def showmigrations(
    ctx: typer.Context,
    plan: Annotated[
        bool, typer.Option("--plan", help="List in the order they apply, with parents (-v 2).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show every migration and whether it is applied."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        result = commands.showmigrations(state.settings())
        _print_showmigrations(state, result, plan=plan, as_json=as_json)


@app.command()
def sqlmigrate(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="A migration id or unique prefix.")],
    backwards: Annotated[
        bool, typer.Option("--backwards", help="The SQL that unapplies the migration.")
    ] = False,
) -> None:
    """Print the SQL of one migration, offline, for the configured database."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        result = commands.sqlmigrate(state.settings(), revision, backwards=backwards)
        typer.echo(result.sql or f"-- {result.revision} runs no SQL statements.", nl=not result.sql)


@app.command()
def squashmigrations(
    ctx: typer.Context,
    migrations: Annotated[
        list[str],
        typer.Argument(
            metavar="[START] END",
            callback=_start_end,
            help="Squash from START (default: the first migration) to END.",
        ),
    ],
    keep: Annotated[
        bool, typer.Option("--keep", help="Move the replaced files to a folder not loaded.")
    ] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; squash.")] = False,
) -> None:
    """Replace a run of migrations (START defaults to the first) by one equivalent migration."""
    from manage import commands

    state: CliState = ctx.obj
    start = migrations[0] if len(migrations) == 2 else None
    end = migrations[-1]
    with reporting(state):
        result = commands.squashmigrations(
            state.settings(), end, start, keep=keep, confirm=_confirmer(no_input)
        )
        if result.path is None:
            state.echo("Squash not written.")
            return
        count, span = len(result.replaced), f"{result.replaced[0]} .. {result.replaced[-1]}"
        state.echo(f"Squashed {count} migrations ({span}) into {_relative(state, result.path)}")
        if result.kept_in is not None:
            where = _relative(state, result.kept_in)
            state.echo(f"  The replaced files are in {where}/ (not loaded).")
        else:
            state.echo("  The replaced files were removed.")
        for warning in result.warnings:
            state.note(warning)


@app.command()
def check(
    ctx: typer.Context,
    database: Annotated[
        bool,
        typer.Option("--database", help="Also check the database is reachable and at head."),
    ] = False,
) -> None:
    """Check the project for CI: settings, models, migration files, and optionally the database."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        result = commands.check(state.settings, database=database)
        _print_check(state, result)
    if not result.ok:
        raise typer.Exit(1)


def _check_interface(value: str | None) -> str | None:
    from manage.commands.shell import INTERFACES

    if value is not None and value not in INTERFACES:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(INTERFACES)}.")
    return value


@app.command()
def shell(
    ctx: typer.Context,
    command: Annotated[
        str | None, typer.Option("-c", "--command", metavar="CODE", help="Run CODE and exit.")
    ] = None,
    interface: Annotated[
        str | None,
        typer.Option(
            "-i",
            "--interface",
            metavar="ipython|python",
            callback=_check_interface,
            help="ipython or python (default: IPython if installed).",
        ),
    ] = None,
) -> None:
    """Open a Python shell with the models, engine, session and settings loaded."""
    from manage.commands.shell import CODE_FILENAME, pick_interface
    from manage.commands.shell import shell as run_shell

    state: CliState = ctx.obj
    with reporting(state, exits_allowed=True):
        if command is None:
            interface = pick_interface(interface)  # before loading the project
        try:
            run_shell(state.settings(), command=command, interface=interface)
        except ManageError:
            raise
        except Exception as exc:
            # Like `python -c`: the traceback of the user's code, without manage's own frames.
            tb = exc.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != CODE_FILENAME:
                tb = tb.tb_next
            import traceback

            traceback.print_exception(type(exc), exc, tb or exc.__traceback__)
            raise typer.Exit(1) from None


@app.command()
def dbshell(
    ctx: typer.Context,
    parameters: Annotated[
        list[str] | None,
        typer.Argument(help="Passed to the client after --, e.g. -- -c 'SELECT 1'."),
    ] = None,
) -> None:
    """Open the database's command-line client (psql, mariadb/mysql, sqlite3)."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        result = commands.dbshell(state.settings(), parameters or ())
    raise typer.Exit(result.exit_code)


@app.command()
def init(
    ctx: typer.Context,
    models: Annotated[
        str | None,
        typer.Option("--models", metavar="MODULE:BASE", help="The Base; found by a scan if not."),
    ] = None,
    database_url_: Annotated[
        str | None,
        typer.Option("--database-url", metavar="URL", help="database_url to write (no password)."),
    ] = None,
    migrations: Annotated[
        str, typer.Option("--migrations", metavar="DIR", help="The migrations folder.")
    ] = "migrations",
    no_input: Annotated[
        bool, typer.Option("--no-input", help="Never prompt; fail if several Bases.")
    ] = False,
) -> None:
    """Set up manage: its table in pyproject.toml, and the migrations folder."""
    from manage.commands.init import init as run_init

    state: CliState = ctx.obj
    with reporting(state):
        result = run_init(
            state.project, models=models, database_url=database_url_ or state.database_url,
            migrations=migrations, choose=None if no_input else _choose_base,
        )  # fmt: skip
    verb = "Created" if result.created_pyproject else "Updated"
    state.heading(f"{verb} {result.pyproject.name}:")
    for line in result.table.splitlines():
        state.echo(f"  {line}")
    if result.created_migrations:
        state.echo(f"Created {result.migrations_dir.name}/")
    state.echo("Next: run 'manage makemigrations' to write the first migration.")


def _choose_base(candidates: Any) -> str:
    typer.echo("Found several declarative Bases:", err=True)
    for index, candidate in enumerate(candidates, 1):
        typer.echo(f"  {index}. {candidate}", err=True)

    def number(text: str) -> int:
        text = text.strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= len(candidates):
            raise typer.BadParameter(f"answer a number from 1 to {len(candidates)}")
        return int(text)

    choice: int = typer.prompt(
        f"Which one holds your models? [1-{len(candidates)}]",
        value_proc=number,
        prompt_suffix=" ",
        err=True,
    )
    return str(candidates[choice - 1])


@app.command()
def inspectdb(
    ctx: typer.Context,
    tables: Annotated[
        list[str] | None, typer.Argument(help="Tables to inspect (default: all).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this new file.")
    ] = None,
    views: Annotated[bool, typer.Option("--views", help="Also inspect views.")] = False,
) -> None:
    """Print declarative models for the tables of an existing database (needs sqlacodegen)."""
    from manage.commands.inspectdb import inspectdb as run_inspectdb

    state: CliState = ctx.obj
    with reporting(state):
        result = run_inspectdb(state.settings(), tables or (), output=output, views=views)
    if result.path is None:
        typer.echo(result.code, nl=False)
    else:
        state.echo(f"Wrote {len(result.tables)} tables to {result.path}")


# -- rendering -------------------------------------------------------------------------------


def _confirmer(no_input: bool) -> Any:
    def confirm(question: str) -> bool:
        if no_input:
            return True
        try:
            return typer.confirm(question, default=False)
        except typer.Abort:
            return False

    return confirm


def _data_loss_prompt(state: CliState) -> Any:
    """Ask before unapplying drops data, in a terminal only: a deploy without one is refused
    (and told about --allow-data-loss) rather than left waiting for an answer."""
    if not sys.stdin.isatty():
        return None

    def confirm(losses: tuple[Any, ...]) -> bool:
        verb = "deletes" if all(loss.known for loss in losses) else "may delete"
        state.note(f"Unapplying these migrations {verb} data:")
        for loss in losses:
            state.note(f"  {loss}")
        try:
            return typer.confirm("Unapply them anyway?", default=False, err=True)
        except typer.Abort:
            return False

    return confirm


def _default_asker(state: CliState) -> Any:
    def ask_default(question: Any) -> str | None:
        state.echo(
            f"Column {question.key} is NOT NULL and has no server default, so the rows "
            f"already in {question.table} need a value."
        )
        state.echo(" 1) Give a one-off default now (it fills the existing rows only)")
        state.echo(" 2) Quit, and add a server_default or make the column nullable in the models")
        try:
            choice = ""
            while choice not in ("1", "2"):
                choice = typer.prompt("Select an option [1/2]").strip()
            if choice == "2":
                return None
            state.echo(
                "Give the default as a Python literal ('unknown', 0, True) "
                "or as SQL (CURRENT_TIMESTAMP)."
            )
            value = ""
            while not value:
                value = typer.prompt(f"Default for {question.key} (a {question.type})").strip()
        except typer.Abort:
            return None
        return value

    return ask_default


def _relative(state: CliState, path: Path) -> str:
    try:
        return str(path.relative_to(state.settings().project_root))
    except ValueError:
        return str(path)


def _print_makemigrations(
    state: CliState, result: MakeMigrationsResult, *, check: bool, merge: bool
) -> None:
    if merge:
        if not result.merged:
            state.echo("No conflicts detected to merge.")
        elif result.path is None:
            state.echo("Merge not written.")
        else:
            verb = (
                "Created new merge migration" if result.written else "Would create merge migration"
            )
            state.echo(f"{verb} {_relative(state, result.path)}")
        return
    if result.path is None:
        state.echo("No changes detected")
        return
    if check:
        heading, *lines = _check_lines(state, result)
        state.heading(heading)
        for line in lines:
            state.echo(line)
        return
    state.heading("Migrations:" if result.written else "Migrations (dry run, nothing written):")
    replaced = ""
    if result.replaced is not None:
        replaced = f" (updated: replaces {result.replaced.name})"
    state.echo(f"  {_relative(state, result.path)}{replaced}", bold=True)
    for operation in result.operations:
        state.echo(f"    {operation}")
    for sql_file in result.sql_files:
        state.echo(f"    {_relative(state, sql_file)}")
    for operation in result.operations:
        if operation.warning:
            state.echo(f"  ! {operation.warning}", fg="red")
    if result.content is not None and state.verbosity >= 3:
        state.echo(result.content)
    if result.replaced is not None and result.checked is not None:
        state.note(
            f"Only the database at {result.checked} was checked: make sure no other database "
            "(a teammate's, staging, production) has applied the migration --update rewrote."
        )


def _check_lines(state: CliState, result: MakeMigrationsResult) -> list[str]:
    return launcher.check_lines(result.path, result.operations, state.settings().project_root)


def _remember_check(state: CliState, result: MakeMigrationsResult) -> None:
    """Remember a plain ``manage makemigrations --check`` answer, for ``main``'s fast path."""
    if state.settings_module or state.database_url or state.project or state.verbosity != 1:
        return
    from manage.core.answers import Answer, remember

    settings = state.settings()
    output = "".join(f"{line}\n" for line in _check_lines(state, result))
    remember(
        settings.project_root,
        settings.migrations_dir,
        Answer(output, 1 if result.operations else 0),
        started_ns=launcher.STARTED_NS,
        database_url=launcher.DATABASE_URL_AT_START,
    )


class _MigrateOutput:
    """Prints Django's migrate headings once, before the first step or the final summary."""

    def __init__(self, state: CliState, target: str, *, quiet: bool) -> None:
        self.state, self.target, self.quiet, self.headed = state, target, quiet, False
        self.line_open = False

    def heading(self) -> None:
        if self.headed or self.quiet or self.state.verbosity < 1:
            return
        self.headed = True
        self.state.heading("Operations to perform:")
        label = {"head": "Apply all migrations", "zero": "Unapply all migrations"}
        self.state.echo(f"  {label.get(self.target, f'Target specific migration: {self.target}')}")
        self.state.heading("Running migrations:")

    def started(self, step: Step) -> None:
        self.heading()
        verb = "Applying" if step.direction == "apply" else "Unapplying"
        typer.echo(f"  {verb} {step.revision}...", nl=False, color=self.state.color)
        self.line_open = True

    def faked(self, step: Step) -> None:
        self.heading()
        self.state.echo(f"  Applying {step.revision}... FAKED")

    def done(self, _step: Step) -> None:
        self.state.echo(" OK", fg="green")
        self.line_open = False

    def end_line(self) -> None:
        """End an ``Applying X...`` line that a failure interrupted, before the error."""
        if self.line_open:
            self.state.echo()

    def result(self, result: MigrateResult, *, check: bool, sql: bool) -> None:
        state = self.state
        if sql:
            typer.echo(result.sql or "", nl=False)
        elif check and result.steps:
            state.heading("Unapplied migrations:")
            for step in result.steps:
                state.echo(f"  {step.revision}")
        elif check:
            state.echo("No migrations to apply.")
        elif not result.executed:
            state.heading("Planned operations:")
            for step in result.steps:
                verb = "Apply" if step.direction == "apply" else "Unapply"
                if step in result.faked:
                    state.echo(f"  Fake {step.revision} (its tables exist already)")
                    continue
                state.echo(f"  {verb} {step.revision}")
                for warning in result.warnings.get(step.revision, ()):
                    state.echo(f"    ! {warning}", fg="red")
            if not result.steps:
                state.echo("  No planned migration operations.")
        else:
            self.heading()
            for step in result.steps if result.fake else ():
                verb = "Applying" if step.direction == "apply" else "Unapplying"
                state.echo(f"  {verb} {step.revision}... FAKED")
            if not result.steps:
                state.echo("  No migrations to apply.")


def _print_showmigrations(
    state: CliState, result: ShowMigrationsResult, *, plan: bool, as_json: bool
) -> None:
    if as_json:
        rows = [
            {**dataclasses.asdict(m), "path": str(m.path) if m.path else None, "missing": m.missing,
             "edited": m.edited}
            for m in result.migrations
        ]  # fmt: skip
        import json

        state.echo(json.dumps(rows, indent=2, default=str))
        return
    if not result.migrations:
        state.echo(" (no migrations)")
        return
    folder = _relative(state, result.migrations_dir)
    for m in result.migrations:
        mark = {True: "[X]", False: "[ ]", None: "[?]"}[m.applied]
        line = f"{mark}  {m.id}" if plan else f" {mark} {m.id}"
        if plan and state.verbosity >= 2 and m.down_revisions:
            line += f" ... ({', '.join(m.down_revisions)})"
        if m.head:
            line += " (head)"
        if m.missing:
            line += f" (missing: recorded in the database, no file in {folder}/)"
        if m.edited:
            line += " (edited after it was applied)"
        if state.verbosity >= 2 and m.applied_at:
            when = f"{m.applied_at:%Y-%m-%d %H:%M:%S} UTC by {m.applied_by}"
            line += f"  faked {when}" if m.faked else f"  applied {when} in {m.duration_ms} ms"
        state.echo(line)
    for m in result.migrations:
        if m.edited:
            state.note(m.edited_warning(state.settings().project_root))
    for m in result.migrations:
        if m.missing:
            state.note(
                f"The database records {m.id}, but no migration file has that id, so which "
                "migrations below it are applied is unknown ([?]). Restore the file, or record "
                "a revision that exists with 'manage migrate <id> --fake'."
            )


_CHECK_MARKS = {"ok": ("[OK]  ", "green"), "fail": ("[FAIL]", "red"), "skip": ("[SKIP]", "yellow")}


def _print_check(state: CliState, result: CheckResult) -> None:
    for item in result.checks:
        mark, colour = _CHECK_MARKS[item.status]
        typer.echo(
            f"{typer.style(mark, fg=colour, bold=True)} {item.name}: {item.detail}",
            color=state.color,
        )
        for note in item.notes:
            state.echo(f"         {note}")
    failed = len(result.failed)
    if failed:
        state.echo(f"System check identified {failed} issue{'' if failed == 1 else 's'}.")
    else:
        state.echo("System check identified no issues.")


def main() -> None:
    """Run the CLI (the console script is :func:`manage.launcher.main`)."""
    signal.signal(signal.SIGTERM, launcher.terminated)
    app()
