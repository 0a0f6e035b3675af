"""The questions the CLI asks (confirmations, answers for makemigrations), as callables."""

from __future__ import annotations

import sys
from typing import Any

import typer

from manage.cli.output import CliState
from manage.light import render


def _choose_base(candidates: Any) -> str:
    typer.echo(f"{render.SEVERAL_BASES}:", err=True)
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


def _yes(question: str, *, err: bool = False) -> bool:
    """Ask a yes/no question, no by default; Ctrl-C or end of input is no."""
    try:
        return typer.confirm(question, default=False, err=err)
    except typer.Abort:
        return False


def _confirmer(no_input: bool) -> Any:
    def confirm(question: str) -> bool:
        return True if no_input else _yes(question)

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
        return _yes("Unapply them anyway?", err=True)

    return confirm


def _default_asker(state: CliState) -> Any:
    def ask_default(question: Any) -> str | None:
        state.echo(f"{render.needs_a_value(question.key, question.table)}.")
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
