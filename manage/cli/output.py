"""The CLI's state, how an error is reported (``report``, for the boundary in ``group.py``), and
the printing of each result."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from manage.errors import ERROR_PREFIX, ManageError
from manage.light import render
from manage.light.render import check_lines

if TYPE_CHECKING:
    from manage.commands import (
        CheckResult,
        MakeMigrationsResult,
        MigrateResult,
        ShowMigrationsResult,
    )
    from manage.core.migrations.ddl_locks import LockWait
    from manage.core.migrations.types import Step
    from manage.core.settings import Settings


@dataclasses.dataclass
class CliState:
    """The global options, and the Settings loaded from them on first use."""

    settings_module: str | None = None
    database_url: str | None = None
    project: Path | None = None
    verbosity: int = 1
    traceback: bool = False
    color: bool | None = None
    database: str | None = None
    """``--database NAME``."""
    _settings: Settings | None = None
    _every: tuple[Settings, ...] | None = None

    def settings(self) -> Settings:
        """The Settings of the one database a command works on: ``--database NAME``, else the
        first declared."""
        if self._settings is None:
            from manage.core.settings import load_settings

            self._settings = load_settings(
                self.settings_module,
                cwd=self.project,
                database_url=self.database_url,
                database=self.database,
            )
            self._describe(self._settings)
        return self._settings

    def every_database(self) -> tuple[Settings, ...]:
        """The Settings of each database ``migrate``, ``showmigrations``, ``check`` and
        ``makemigrations`` cover: the one of ``--database NAME``, else all, in declared order."""
        if self._every is None:
            if self.database is not None or self._settings is not None:
                self._every = (self.settings(),)
            else:
                from manage.core.settings import load_all_settings

                self._every = load_all_settings(
                    self.settings_module, cwd=self.project, database_url=self.database_url
                )
                self._settings = self._every[0]
                for settings in self._every:
                    self._describe(settings)
        return self._every

    def database_heading(self, settings: Settings) -> None:
        """``Database NAME:`` before a database's output, when a command covers several."""
        if len(self.every_database()) > 1 and self.verbosity >= 1:
            self.heading(f"Database {settings.database}:")

    def _describe(self, settings: Settings) -> None:
        if self.verbosity >= 2:
            self.note(f"Project: {settings.project_root}")
            for name, value, source in settings.describe()[1:]:
                self.note(f"  {name} = {value}  ({source})")

    def echo(self, text: str = "", *, err: bool = False, **style: Any) -> None:
        typer.echo(typer.style(text, **style) if style else text, err=err, color=self.color)

    def heading(self, text: str) -> None:
        self.echo(text, bold=True, fg="cyan")

    def note(self, text: str) -> None:
        self.echo(text, err=True, fg="yellow")

    def error(self, text: str) -> None:
        self.echo(text, err=True, fg="red")


def report(state: CliState, error: ManageError) -> int:
    """Print ``error`` as ``Error: ...`` on stderr (after its traceback with ``--traceback``);
    return its exit code. What the one error boundary (``ManageGroup.invoke``) and the launcher
    print."""
    if state.traceback:
        import traceback

        from manage.core.redact import redact

        # The SQL in it may carry a password (IDENTIFIED BY '...').
        sys.stderr.write(redact(traceback.format_exc()))
    state.error(f"{ERROR_PREFIX}{error}")
    return error.exit_code


def report_error(error: ManageError) -> NoReturn:
    """Print ``error`` as every command does, and exit with its code (for manage.launcher)."""
    try:
        raise error
    except ManageError:
        sys.exit(report(CliState(), error))


def _relative(state: CliState, path: Path) -> str:
    return render.relative(path, state.settings().project_root)


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
    return check_lines(result.path, result.operations, state.settings().project_root)


def _remember_check(state: CliState, result: MakeMigrationsResult) -> None:
    """Remember a plain ``manage makemigrations --check`` answer, for ``main``'s fast path."""
    if state.settings_module or state.database_url or state.project or state.verbosity != 1:
        return
    if state.database or state.settings().databases:  # several databases: never remembered
        return
    from manage.core.check.pipeline import remember

    remember(state.settings(), result.path, result.operations)


class _MigrateOutput:
    """Prints Django's migrate headings once, before the first step or the final summary."""

    def __init__(self, state: CliState, target: str, *, quiet: bool) -> None:
        self.state, self.target, self.quiet, self.headed = state, target, quiet, False
        self.line_open = False
        self.verb = ""

    def heading(self) -> None:
        if self.headed or self.quiet or self.state.verbosity < 1:
            return
        self.headed = True
        self.state.heading(render.OPERATIONS)
        self.state.echo(render.migrate_target(self.target))
        self.state.heading(render.RUNNING)

    def started(self, step: Step) -> None:
        self.heading()
        verb = "Applying" if step.direction == "apply" else "Unapplying"
        self.verb = f"{verb} {step.revision}"
        typer.echo(f"  {self.verb}...", nl=False, color=self.state.color)
        self.line_open = True

    def step_by_step(self, reason: str) -> None:
        if self.state.verbosity >= 1:
            self.state.note(render.step_by_step(reason))

    def faked(self, step: Step) -> None:
        self.heading()
        self.state.echo(f"  Applying {step.revision}... FAKED")

    def done(self, _step: Step) -> None:
        self.state.echo(" OK", fg="green")
        self.line_open = False

    def retried(self, wait: LockWait) -> None:
        """A DDL statement timed out waiting for a lock and will run again (issue 14)."""
        self.end_line()
        self.state.note(
            render.ddl_retry(
                wait.short_statement, wait.timeout, wait.blocked_by(), wait.attempt,
                wait.retries, wait.delay, whole_migration=wait.whole_migration,
            )
        )  # fmt: skip
        if self.line_open and not wait.whole_migration:  # the migration goes on
            typer.echo(f"  {self.verb}...", nl=False, color=self.state.color)
        elif self.line_open:  # it starts again, with a new line of its own
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
            state.echo(render.NOTHING_TO_APPLY)
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
                for finding in result.lint.get(step.revision, ()):
                    where = f"line {finding.line}: " if finding.line is not None else ""
                    state.echo(f"    ~ {where}{finding.rule} {finding.name}: {finding.message}",
                               fg="yellow")  # fmt: skip
            if not result.steps:
                state.echo("  No planned migration operations.")
            elif result.fast_forwarded:
                state.echo(render.would_fast_forward(len(result.steps), result.target))
            elif result.step_by_step_because:
                state.echo(render.step_by_step(result.step_by_step_because))
        elif result.fast_forwarded:
            self.heading()
            state.echo(render.fast_forwarded(len(result.steps), result.target), fg="green")
        else:
            self.heading()
            for step in result.steps if result.fake else ():
                verb = "Applying" if step.direction == "apply" else "Unapplying"
                state.echo(f"  {verb} {step.revision}... FAKED")
            if not result.steps:
                state.echo(f"  {render.NOTHING_TO_APPLY}")


def json_rows(result: ShowMigrationsResult) -> list[dict[str, Any]]:
    """``showmigrations --json``: one object per migration."""
    return [
        {**dataclasses.asdict(m), "path": str(m.path) if m.path else None, "missing": m.missing,
         "edited": m.edited}
        for m in result.migrations
    ]  # fmt: skip


def _print_showmigrations(
    state: CliState, result: ShowMigrationsResult, *, plan: bool, as_json: bool
) -> None:
    if as_json:
        import json

        state.echo(json.dumps(json_rows(result), indent=2, default=str))
        return
    if not result.migrations:
        state.echo(render.NO_MIGRATIONS)
        return
    folder = _relative(state, result.migrations_dir)
    for m in result.migrations:
        line = render.migration_line(
            m.id, m.applied, plan=plan, head=m.head, missing_in=folder if m.missing else "",
            edited=m.edited, parents=m.down_revisions if plan and state.verbosity >= 2 else (),
        )  # fmt: skip
        if state.verbosity >= 2 and m.applied_at:
            when = f"{m.applied_at:%Y-%m-%d %H:%M:%S} UTC by {m.applied_by}"
            line += f"  faked {when}" if m.faked else f"  applied {when} in {m.duration_ms} ms"
        state.echo(line)
    for m in result.migrations:
        if m.edited:
            state.note(m.edited_warning(state.settings().project_root))
    for m in result.migrations:
        if m.missing:
            state.note(render.missing_note(m.id))


_CHECK_MARKS = {"ok": ("[OK]  ", "green"), "fail": ("[FAIL]", "red"), "skip": ("[SKIP]", "yellow"),
                "warn": ("[WARN]", "yellow")}  # fmt: skip


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
