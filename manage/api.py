"""``call_command``: run a built-in, project or plugin command from Python, as Django does."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from manage.errors import (
    ManageError,
    command_exited,
    group_of_commands,
    invalid_arguments,
    unknown_command,
)
from manage.registry import BUILTINS, Builtin

if TYPE_CHECKING:
    from pathlib import Path

    from manage.core.settings import Settings


def _builtin(entry: Builtin) -> Callable[..., Any]:
    """``entry``'s function, called with the settings as it takes them (or none)."""
    function = entry.load()
    if entry.settings == "none":

        def run(load: Callable[[], Settings], *args: Any, **options: Any) -> Any:
            return function(*args, **options)

        run.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
        return run
    lazy = entry.settings == "loader"

    def run_with(load: Callable[[], Settings], *args: Any, **options: Any) -> Any:
        return function(load if lazy else load(), *args, **options)

    run_with.__signature__ = _without_first(function)  # type: ignore[attr-defined]
    return run_with


def _without_first(function: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(function)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


def call_command(name: str, /, *args: Any, settings: Settings | None = None, **options: Any) -> Any:
    """Run the command ``name`` and return its result; never exits the interpreter.

    Built-in commands return their frozen dataclass (``call_command("migrate", "0002")`` returns
    a ``MigrateResult``); project and plugin commands return what their function returns.

    Args:
        name: ``migrate``, ``seed``, ... (``seed_books`` and ``seed-books`` both work).
        args: positional arguments of the command.
        settings: the project's Settings; by default loaded as ``manage`` would from the current
            folder.
        options: the command's options, by parameter name (``fake=True``).

    Raises:
        ManageError: as the command does, or when the command or an option does not exist.
    """
    from manage.core.plugins import Context, command_name, configured_modules, find_commands
    from manage.core.settings import load_settings

    cache: list[Settings] = [settings] if settings is not None else []

    def load() -> Settings:
        if not cache:
            cache.append(load_settings())
        return cache[0]

    key = command_name(name)
    if key in BUILTINS:
        function = _builtin(BUILTINS[key])
        _bind(key, inspect.signature(function), args, options, partial=False)
        return function(load, *args, **options)
    root: Path | None
    modules: tuple[str, ...]
    if settings is not None:
        root, modules = settings.project_root, settings.commands
    else:  # as the CLI does: plugin commands work outside a project too
        root, modules = configured_modules(None, None) or (None, ())
    found = find_commands(modules, root, builtin=BUILTINS)
    item = found.commands.get(key)
    if item is None:
        raise unknown_command(name, sorted([*BUILTINS, *found.commands]))
    if item.callback is None:
        raise group_of_commands(key, item.origin)
    return _call_project(key, item.callback, args, options, Context(load))


def _call_project(
    name: str, function: Callable[..., Any], args: tuple[Any, ...], options: dict[str, Any],
    context: Any,
) -> Any:  # fmt: skip
    from manage.core.plugins import context_parameters

    signature, wanted = context_parameters(function)
    options = {**options, **dict.fromkeys(wanted, context)}
    bound = _bind(name, signature, args, options)
    for parameter in signature.parameters.values():
        if parameter.name not in bound.arguments:
            default = _typer_default(parameter)
            if default is not inspect.Parameter.empty:
                bound.arguments[parameter.name] = default
    bound = _bind(name, signature, bound.args, bound.kwargs, partial=False)
    try:
        return context.run(function, *bound.args, **bound.kwargs)
    except ManageError:
        raise
    except Exception as exc:
        code = getattr(exc, "exit_code", None)
        if type(exc).__name__ != "Exit" or not isinstance(code, int):
            raise
        if code == 0:
            return None
        raise command_exited(name, code) from exc
    finally:
        context.close()


def _bind(
    name: str,
    signature: inspect.Signature,
    args: tuple[Any, ...],
    options: dict[str, Any],
    *,
    partial: bool = True,
) -> inspect.BoundArguments:
    try:
        if partial:
            return signature.bind_partial(*args, **options)
        return signature.bind(*args, **options)
    except TypeError as exc:
        valid = ", ".join(p for p in signature.parameters if not p.startswith("on_")) or "none"
        raise invalid_arguments(name, exc, valid) from None


def _typer_default(parameter: inspect.Parameter) -> Any:
    """The default of an old-style ``x: int = typer.Option(3)`` parameter."""
    default = parameter.default
    if default is not inspect.Parameter.empty and hasattr(default, "param_decls"):
        value = getattr(default, "default", inspect.Parameter.empty)
        return inspect.Parameter.empty if value is ... else value
    return default
