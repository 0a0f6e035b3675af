"""The ``manage`` command line: parses options, calls manage.commands, prints, sets exit codes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manage import __version__
from manage.errors import ManageError

if TYPE_CHECKING:
    from manage.commands import (
        CheckResult,
        MakeMigrationsResult,
        MigrateResult,
        ShowMigrationsResult,
    )
    from manage.core.environment import Step
    from manage.core.settings import Settings

# When this process started, and DATABASE_URL as it found it (before a .env is read): what a
# remembered check answer is stamped against.
_STARTED_NS = time.time_ns()
_DATABASE_URL_AT_START = os.environ.get("DATABASE_URL")

app = typer.Typer(
    name="manage",
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
def reporting(state: CliState) -> Iterator[None]:
    """The one place a ManageError becomes ``Error: ...`` on stderr and an exit code."""
    try:
        yield
    except ManageError as exc:
        if state.traceback:
            traceback.print_exc()
        state.error(f"Error: {exc}")
        raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sqlalchemy-manage {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    settings: Annotated[
        str | None,
        typer.Option("--settings", metavar="MODULE", help="Settings module, e.g. shop.settings."),
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
    from manage.core.revisions import name_problem

    if name is not None and (problem := name_problem(name)):
        raise typer.BadParameter(problem)
    return name


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
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt; answer yes.")] = False,
) -> None:
    """Create a migration from the changes to the models."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        result = commands.makemigrations(
            state.settings(), name=name, empty=empty, check=check, dry_run=dry_run, merge=merge,
            confirm=_confirmer(no_input), on_notice=state.note,
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
) -> None:
    """Update the database schema to match the migrations."""
    from manage import commands

    state: CliState = ctx.obj
    with reporting(state):
        out = _MigrateOutput(state, target, quiet=plan or check or sql)
        try:
            result = commands.migrate(
                state.settings(), target, fake=fake, plan=plan, sql=sql, check=check,
                on_start=out.started, on_done=out.done,
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
    state.echo(f"  {_relative(state, result.path)}", bold=True)
    for operation in result.operations:
        state.echo(f"    {operation}")
    if result.content is not None and state.verbosity >= 3:
        state.echo(result.content)


def _check_lines(state: CliState, result: MakeMigrationsResult) -> list[str]:
    if result.path is None:
        return ["No changes detected"]
    return [
        "Model changes without a migration:",
        *(f"    {operation}" for operation in result.operations),
        f"Run 'manage makemigrations' to write {_relative(state, result.path)}.",
    ]


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
        started_ns=_STARTED_NS,
        database_url=_DATABASE_URL_AT_START,
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
                state.echo(f"  {verb} {step.revision}")
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
            {**dataclasses.asdict(m), "path": str(m.path) if m.path else None, "missing": m.missing}
            for m in result.migrations
        ]
        state.echo(json.dumps(rows, indent=2))
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
        state.echo(line)
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


def _terminated(signum: int, _frame: object) -> None:
    # Unwind like Ctrl-C, so a temporary shadow database is dropped on the way out.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point of the ``manage`` console script."""
    signal.signal(signal.SIGTERM, _terminated)
    if sys.argv[1:] == ["makemigrations", "--check"]:
        # The commit hook's command: when neither the models nor the migrations changed since
        # the last check, give its answer without importing SQLAlchemy, Alembic or the models.
        from manage.core.answers import remembered

        answer = remembered(Path.cwd())
        if answer is not None:
            sys.stdout.write(answer.output)
            sys.exit(answer.exit_code)
    app()
