"""``manage schema``: its command line, and the printing of its four views (DDL, diff, blame,
diagram). Kept apart from app.py, which holds the other built-ins' parsers."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from manage.cli.output import CliState

if TYPE_CHECKING:
    from manage.commands import BlameEntry, SchemaBlame, SchemaDiff


def schema(
    ctx: typer.Context,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="REV",
            help='"head" (default), a migration id, prefix or name, "zero", or a branch label; '
            "two with --diff.",
            show_default=False,
        ),
    ] = None,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            metavar="NAME",
            help="sqlite, postgresql, mysql or mariadb (default: the project's database).",
        ),
    ] = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show what changed from REV to REV2, as operations.")
    ] = False,
    blame: Annotated[
        str | None,
        typer.Option(
            "--blame",
            metavar="TABLE[.COLUMN]",
            help="Show the migrations that created and changed a table or column.",
        ),
    ] = None,
    mermaid: Annotated[
        bool, typer.Option("--mermaid", help="Print a Mermaid ER diagram instead of the DDL.")
    ] = False,
) -> None:
    """Print the schema at a revision (default: head), replayed from the migrations offline."""
    from manage import commands

    state: CliState = ctx.obj
    result = commands.schema(
        state.settings(), *(revisions or ()), dialect=dialect, diff=diff, blame=blame,
        mermaid=mermaid,
    )  # fmt: skip
    for warning in result.warnings:
        state.note(f"Warning: {warning}")
    if isinstance(result, commands.SchemaDiff):
        _print_diff(state, result)
    elif isinstance(result, commands.SchemaBlame):
        _print_blame(state, result)
    elif isinstance(result, commands.SchemaDiagram):
        typer.echo(result.mermaid, nl=False)
    elif result.statements:
        typer.echo(result.sql, nl=False)
    else:
        typer.echo(f"-- The schema at {result.revision} has no tables.")


def _print_diff(state: CliState, result: SchemaDiff) -> None:
    if not result.operations:
        state.echo(f"No changes from {result.old} to {result.new}.")
        return
    state.heading(f"Changes from {result.old} to {result.new}:")
    for operation in result.operations:
        state.echo(f"  {operation}")


def _print_blame(state: CliState, result: SchemaBlame) -> None:
    name = f"{result.table}.{result.column}" if result.column else result.table
    kind = "Column" if result.column else "Table"
    state.heading(f"{kind} {name} at {result.revision}:")
    created, last = result.created_by, result.last_changed_by
    if created is None:
        state.echo("  Created by:       no migration of the history (the bootstrap made it)")
    else:
        state.echo(f"  Created by:       {created.revision}{_when(created)}")
    if last is not None and last is not created:
        state.echo(f"  Last changed by:  {last.revision}{_when(last)}")
    elif created is not None:
        state.echo("  Last changed by:  the same migration (not changed since)")
    if result.entries:
        state.echo("  Migrations, oldest first:")
    for entry in result.entries:
        state.echo(f"    {entry.revision}{_when(entry)}")
        for operation in entry.operations:
            state.echo(f"      {operation}")


def _when(entry: BlameEntry) -> str:
    dates = [
        f"{label} {_date(value)}"
        for label, value in (("written", entry.written), ("committed", entry.committed))
        if value is not None
    ]
    return f" ({', '.join(dates)})" if dates else " (no date: no Create Date line, not in git)"


def _date(value: dt.datetime) -> str:
    text = value.strftime("%Y-%m-%d %H:%M")
    return f"{text} {value.strftime('%z')}" if value.tzinfo is not None else text
