"""Typer's group for manage: global options, project commands, and every Typer internal touched."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from manage.cli.output import CliState, reporting
from manage.compat import set_typer_coercion, typer_coercion_unset
from manage.errors import ManageError

if TYPE_CHECKING:
    from manage.compat import Command, Context, Parameter
    from manage.core.plugins import ProjectCommand, ProjectCommands


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
        set_typer_coercion(param, None)  # Typer builds its own coercion from here on
        return param.get_runtime_param().coerce(value, param=param, ctx=ctx)


def _in_range(value: int, param: Any) -> bool:
    return (param.min is None or value >= param.min) and (param.max is None or value <= param.max)


def _coerce_lightly(param: Any) -> None:
    """Give one of Typer's parameters the light coercion above (private Typer attributes, in
    manage.compat and pinned by tests/test_compat.py: when a Typer release no longer has them
    the parameter keeps Typer's own coercion)."""
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if (
        info is None
        or not typer_coercion_unset(param)
        or getattr(info, "parser", None) is not None
        or getattr(info, "click_type", None) is not None
    ):
        return
    set_typer_coercion(param, _LightCoercion(param))


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
            return context.run(function, **kwargs, **dict.fromkeys(wanted, context))
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
