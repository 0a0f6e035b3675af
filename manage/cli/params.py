"""Checks of option values the Typer parsers of cli/app.py share: a bad value is a usage error."""

from __future__ import annotations

import typer


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


def _check_interface(value: str | None) -> str | None:
    from manage.commands.shell import INTERFACES

    if value is not None and value not in INTERFACES:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(INTERFACES)}.")
    return value
