"""The Typer app and its commands: parse options, call manage.commands, print the result."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from manage import __version__
from manage.cli.group import ManageGroup
from manage.cli.lint import lint as _lint_parser
from manage.cli.lint import print_lint_of_new as _print_lint_of_new
from manage.cli.output import (
    CliState,
    _MigrateOutput,
    _print_check,
    _print_makemigrations,
    _print_showmigrations,
    _relative,
    _remember_check,
    json_rows,
)
from manage.cli.params import _check_interface, _check_name, _dialects, _pairs, _start_end
from manage.cli.prompts import _choose_base, _confirmer, _data_loss_prompt, _default_asker
from manage.cli.schema import schema as schema_parser
from manage.errors import ManageError
from manage.light.signals import Terminated, terminated
from manage.registry import BUILTINS

app = typer.Typer(
    name="manage",
    cls=ManageGroup,
    help="Django's manage.py for SQLAlchemy projects: makemigrations, migrate, showmigrations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


_PARSERS: dict[str, Callable[..., None]] = {}


def _parser(function: Callable[..., None]) -> Callable[..., None]:
    """Mark ``function`` as the command line of the built-in command of its name; the app
    registers them in the registry's order (below)."""
    _PARSERS[function.__name__] = function
    return function


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
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            metavar="NAME",
            help="One of [tool.manage.databases] (default: all, or the first for one-database "
            "commands).",
        ),
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
        settings, database_url, project, verbosity, show_traceback, False if no_color else None,
        database,
    )  # fmt: skip


@_parser
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
    plain_ddl: Annotated[
        bool,
        typer.Option(
            "--plain-ddl",
            help="Write Alembic's plain operations, not the lock-light forms (safe_ddl).",
        ),
    ] = False,
) -> None:
    """Create a migration from the changes to the models."""
    from manage import commands
    from manage.core.questions import Questioner

    state: CliState = ctx.obj
    questioner = Questioner(
        dict(p.split("=", 1) for p in rename or ()),
        dict(p.split("=", 1) for p in default or ()),
        confirm=None if no_input else _confirmer(False),
        ask_default=None if no_input else _default_asker(state),
    )
    pending = False
    every = state.every_database()
    if len(every) > 1 and (empty or update or sql):
        from manage.errors import UsageError

        flag = "--empty" if empty else "--update" if update else "--sql"
        raise UsageError(
            f"makemigrations {flag} writes one migration, and the project has several "
            f"databases ({', '.join(str(s.database) for s in every)}). Add --database NAME "
            "before the command to say which."
        )
    for settings in every:
        state.database_heading(settings)
        result = commands.makemigrations(
            settings, name=name, empty=empty, check=check, dry_run=dry_run, merge=merge,
            confirm=_confirmer(no_input), on_notice=state.note, questioner=questioner,
            update=update, sql=sql, sql_dialects=tuple(dialect or ()), plain_ddl=plain_ddl,
        )  # fmt: skip
        _print_makemigrations(state, result, check=check, merge=merge)
        if result.written and not merge and result.revision and settings.dialect_name != "sqlite":
            _print_lint_of_new(state, settings, result.revision)
        if check and name is None:
            _remember_check(state, result)
        pending = pending or bool(result.operations)
    if check and pending:
        raise typer.Exit(1)


@_parser
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
    ddl_lock_timeout: Annotated[
        float | None,
        typer.Option(
            "--ddl-lock-timeout",
            metavar="SECONDS",
            min=0,
            help="Lock wait allowed to each DDL statement (default: ddl_lock_timeout, 2).",
        ),
    ] = None,
    ddl_retries: Annotated[
        int | None,
        typer.Option(
            "--ddl-retries",
            min=0,
            max=100,
            help="Tries again after a DDL lock timeout (default: ddl_retries, 5).",
        ),
    ] = None,
    step_by_step: Annotated[
        bool,
        typer.Option(
            "--step-by-step", help="Run each migration in turn, also on an empty database."
        ),
    ] = False,
) -> None:
    """Update the database schema to match the migrations."""
    from manage import commands

    state: CliState = ctx.obj
    every = state.every_database() if target in ("head", "zero") else (state.settings(),)
    pending = False
    for settings in every:  # in declared order; a failure stops before the next database
        if len(every) > 1:
            state.database_heading(settings)
        out = _MigrateOutput(state, target, quiet=plan or check or sql)
        try:
            result = commands.migrate(
                settings, target, fake=fake, plan=plan, sql=sql, check=check,
                fake_initial=fake_initial, on_start=out.started, on_done=out.done,
                on_faked=out.faked, lock_timeout=lock_timeout,
                on_wait=lambda: state.note("Waiting for another manage migrate to finish..."),
                allow_data_loss=allow_data_loss, confirm_data_loss=_data_loss_prompt(state),
                ddl_lock_timeout=ddl_lock_timeout, ddl_retries=ddl_retries, on_retry=out.retried,
                step_by_step=step_by_step, on_step_by_step=out.step_by_step,
            )  # fmt: skip
        finally:
            out.end_line()
        out.result(result, check=check, sql=sql)
        pending = pending or bool(result.steps)
    if check and pending:
        raise typer.Exit(1)


@_parser
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
    every = state.every_database()
    if as_json and len(every) > 1:
        import json

        rows = {s.database: json_rows(commands.showmigrations(s)) for s in every}
        state.echo(json.dumps(rows, indent=2, default=str))
        return
    for settings in every:
        state.database_heading(settings)
        result = commands.showmigrations(settings)
        _print_showmigrations(state, result, plan=plan, as_json=as_json)


@_parser
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
    result = commands.sqlmigrate(state.settings(), revision, backwards=backwards)
    if not result.sql and result.depends_on_data:
        function = "downgrade" if backwards else "upgrade"
        typer.echo(
            f"-- {result.revision} has no SQL to show: its {function}() runs Python code "
            "(e.g. an ORM session) whose statements depend on the rows; on an empty "
            "database it ran none."
        )
        return
    typer.echo(result.sql or f"-- {result.revision} runs no SQL statements.", nl=not result.sql)


@_parser
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


@_parser
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
    try:
        every: tuple[Any, ...] = state.every_database()
    except ManageError:  # the settings check fails and says why
        every = (None,)
    ok = True
    for settings in every:
        if settings is not None:
            state.database_heading(settings)
        load = state.settings if settings is None else functools.partial(_same, settings)
        result = commands.check(load, database=database)
        _print_check(state, result)
        ok = ok and result.ok
    if not ok:
        raise typer.Exit(1)


def _same(settings: Any) -> Any:
    return settings


@_parser
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


@_parser
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
    result = commands.dbshell(state.settings(), parameters or ())
    raise typer.Exit(result.exit_code)


@_parser
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


@_parser
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
    result = run_inspectdb(state.settings(), tables or (), output=output, views=views)
    if result.path is None:
        typer.echo(result.code, nl=False)
    else:
        state.echo(f"Wrote {len(result.tables)} tables to {result.path}")


_parser(schema_parser)  # manage schema: its parser and printing are in cli/schema.py


def _exits_are_errors(function: Callable[..., None]) -> Callable[..., None]:
    """``function`` with a ``sys.exit()`` from the project code it runs (a migration, the
    models) turned into a ProjectExitError: manage does not stop quietly with that code (issue
    12 point 5). Only the command's body: Click's own exits (``--help``) are left alone."""

    @functools.wraps(function)  # Typer reads the parameters through __wrapped__
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except SystemExit as exc:  # manage itself never raises it
            if isinstance(exc, Terminated):
                raise
            from manage.core.settings import project_exit

            raise project_exit(exc) from exc

    return run


_PARSERS["lint"] = _lint_parser
for _entry in BUILTINS.values():  # a built-in without a parser fails here, at import
    _parser_of = _PARSERS.pop(_entry.name)
    if not _entry.exits_allowed:  # the shell: the user's exit() ends it, as in Python
        _parser_of = _exits_are_errors(_parser_of)
    app.command(name=_entry.name)(_parser_of)
if _PARSERS:
    raise RuntimeError(f"Commands missing from manage.registry: {', '.join(_PARSERS)}")


def main() -> None:
    """Run the CLI (the console script is :func:`manage.launcher.main`)."""
    signal.signal(signal.SIGTERM, terminated)
    app()
