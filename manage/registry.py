"""The one table of built-in commands: the Typer app, ``call_command`` and the launcher derive
their command lists from it (standard library only, so the launcher reads it before any import).

It lives beside ``api.py`` rather than in ``manage.commands``: importing that package imports
every command (SQLAlchemy, Alembic), which the console script must not pay for to find a fast
answer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

SettingsUse = Literal["settings", "loader", "none"]


class Builtin(NamedTuple):
    """One built-in command (a NamedTuple: the launcher reads this table on every run, and
    ``dataclasses`` costs a tenth of a remembered answer's time to import)."""

    name: str
    function: str
    """``module:name`` of the command function (the Python API, which returns data)."""
    settings: SettingsUse
    """What the function takes first: the loaded ``Settings``, a callable loading them on first
    use (``check`` reports a settings error as one of its checks), or nothing (``init``)."""
    alembic: bool
    """Imports Alembic (whose Mako imports Pygments: the launcher keeps that out)."""
    fast: str | None = None
    """``module:name`` of a function given the argument list that prints the answer and exits
    before the CLI loads, or returns when it cannot answer (having printed nothing)."""
    exits_allowed: bool = False
    """A ``sys.exit()`` from the user's code ends the command with its code, as in Python
    (``shell``); for the others it is an error (exit 3)."""

    def load(self) -> Callable[..., Any]:
        """The command function."""
        function: Callable[..., Any] = _load(self.function)
        return function

    def load_fast(self) -> Callable[[Sequence[str]], None] | None:
        """The fast answer, if the command has one."""
        return None if self.fast is None else _load(self.fast)


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


_QUICK = "manage.quick:main"
_ALEMBIC, _PLAIN = True, False

BUILTINS: dict[str, Builtin] = {
    entry.name: entry
    for entry in (
        Builtin("makemigrations", "manage.commands.makemigrations:makemigrations", "settings",
                _ALEMBIC, fast="manage.launcher:answer_check"),
        Builtin("migrate", "manage.commands.migrate:migrate", "settings", _ALEMBIC, fast=_QUICK),
        Builtin("showmigrations", "manage.commands.showmigrations:showmigrations", "settings",
                _ALEMBIC, fast=_QUICK),
        Builtin("sqlmigrate", "manage.commands.sqlmigrate:sqlmigrate", "settings", _ALEMBIC),
        Builtin("squashmigrations", "manage.commands.squashmigrations:squashmigrations",
                "settings", _ALEMBIC),
        Builtin("check", "manage.commands.check:check", "loader", _ALEMBIC),
        Builtin("lint", "manage.commands.lint:lint", "settings", _ALEMBIC),
        Builtin("shell", "manage.commands.shell:shell", "settings", _PLAIN, exits_allowed=True),
        Builtin("dbshell", "manage.commands.dbshell:dbshell", "settings", _PLAIN),
        Builtin("init", "manage.commands.init:init", "none", _PLAIN),
        Builtin("inspectdb", "manage.commands.inspectdb:inspectdb", "settings", _ALEMBIC),
        Builtin("schema", "manage.commands.schema:schema", "settings", _ALEMBIC),
    )
}  # fmt: skip
"""Every built-in command, in the order ``manage --help`` lists them. Project and plugin
commands may not take these names."""


def named_in(args: Sequence[str]) -> Builtin | None:
    """The built-in command that the first word naming one in ``args`` names (before ``--``);
    what the launcher decides its shortcuts by, before options are parsed."""
    for arg in args:
        if arg == "--":
            return None
        if arg in BUILTINS:
            return BUILTINS[arg]
    return None
