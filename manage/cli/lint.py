"""``manage lint``'s command line, and the finding lines makemigrations, migrate --plan and
check print too."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from manage.cli.output import CliState, _relative

if TYPE_CHECKING:
    from manage.commands.lint import LintResult
    from manage.core.lint.engine import Finding
    from manage.core.settings import Settings


def finding_line(finding: Finding) -> str:
    """``M101 require-concurrent-index-creation: CREATE INDEX ... Fix: ...``."""
    return f"{finding.rule} {finding.name}: {finding.message}"


def located(state: CliState, finding: Finding) -> str:
    """The finding after its ``path:line:``."""
    where = _relative(state, finding.path)
    line = f":{finding.line}" if finding.line is not None else ""
    return f"{where}{line}: {finding_line(finding)}"


def lint(
    ctx: typer.Context,
    revisions: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="REV",
            help="Migration ids or prefixes, 'head', or FROM:TO ranges (default: all).",
        ),
    ] = None,
    unapplied: Annotated[
        bool, typer.Option("--unapplied", help="Only the migrations the database has not applied.")
    ] = False,
    advice: Annotated[
        bool, typer.Option("--advice", help="Also the advice rules (M2xx column types, M112).")
    ] = False,
    output_format: Annotated[
        str, typer.Option("--format", metavar="text|json", help="text (default) or json.")
    ] = "text",
) -> None:
    """Lint migrations for operations that lock busy tables or break the running release."""
    from manage import commands

    if output_format not in ("text", "json"):
        raise typer.BadParameter(f"'{output_format}' is not text or json.", param_hint="--format")
    state: CliState = ctx.obj
    result = commands.lint(state.settings(), revisions or (), unapplied=unapplied, advice=advice)
    if output_format == "json":
        state.echo(json.dumps(lint_json(state, result), indent=2))
    else:
        _print(state, result)
    if result.findings:
        raise typer.Exit(1)


def lint_json(state: CliState, result: LintResult) -> dict[str, Any]:
    """``manage lint --format json``."""
    return {
        "dialect": result.dialect,
        "migrations": [
            {"revision": m.revision, "path": _relative(state, m.path),
             "findings": len(m.findings), "suppressed": m.suppressed, "unread": m.unread}
            for m in result.migrations
        ],
        "findings": [
            {**dataclasses.asdict(f), "path": _relative(state, f.path), "message": f.message}
            for f in result.findings
        ],
    }  # fmt: skip


def _print(state: CliState, result: LintResult) -> None:
    for migration in result.migrations:
        for finding in migration.findings:
            state.echo(located(state, finding))
        if migration.unread:
            state.note(
                f"{migration.revision}: read only until its upgrade() stopped without a "
                f"database ({migration.unread})."
            )
    count, linted = len(result.findings), len(result.migrations)
    allowed = f" ({result.suppressed} allowed by a comment)" if result.suppressed else ""
    migrations = f"{linted} migration{'' if linted == 1 else 's'}"
    if count:
        with_findings = sum(1 for m in result.migrations if m.findings)
        state.echo(
            f"{count} finding{'' if count == 1 else 's'} in {with_findings} of {migrations} "
            f"on {result.dialect}{allowed}."
        )
    else:
        state.echo(f"No findings in {migrations} on {result.dialect}{allowed}.")


def print_lint_of_new(state: CliState, settings: Settings, revision: str) -> None:
    """After makemigrations wrote ``revision``: its lint findings, as warnings on stderr (the
    file written is makemigrations' data; these are diagnostics about it)."""
    from manage import commands

    result = commands.lint(settings, [revision])
    for finding in result.findings:  # diagnostics: stderr, as notes are
        where = f"line {finding.line}: " if finding.line is not None else ""
        state.note(f"  ~ {where}{finding_line(finding)}")
    if result.findings:
        state.note(
            f"  Review it with 'manage lint {revision}'; a comment '# manage: allow RULE' on "
            "the line accepts a finding."
        )
