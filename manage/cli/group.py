"""Typer's group for manage: global options, project commands, and every Typer internal touched."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from manage.cli.output import CliState, report
from manage.compat import set_typer_coercion, typer_coercion_unset
from manage.errors import (
    ManageError,
    command_cannot_be_built,
    commands_failed_to_load,
    commands_still_work,
)
from manage.registry import BUILTINS

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
        args = self._globals_first(ctx, list(args))
        # --help runs before the other options are processed (processing one makes Typer
        # import pydantic): -C/--settings are read from the raw arguments instead.
        ctx.meta["manage.args"] = list(args)  # a copy: Click's parser consumes the list
        return super().parse_args(ctx, args)

    def _globals_first(self, ctx: Context, args: list[str]) -> list[str]:
        """``args`` with the global options given after the command moved before it, as Django
        users type them (``manage migrate -v 2``): the same meaning in both places, and one
        given in both is taken from the later place (Click's rule for an option given twice).
        A command's own option of the same name stays the command's (``init --database-url``);
        nothing after ``--`` moves (``dbshell -- -v``)."""
        globals_ = _options(self.get_params(ctx))
        at = _first_word(args, globals_)
        if at is None:
            return args
        head, name, tail = args[:at], args[at], args[at + 1 :]
        command = super().get_command(ctx, name)
        if command is None:  # a project command: loaded with -C/--settings given anywhere
            moved, _kept = _pull(tail, globals_, {})
            ctx.meta["manage.args"] = [*head, *moved, name]
            command = self._load_extra(ctx).get(name)
        own = _options(_every_param(command, ctx)) if command else {}
        moved, kept = _pull(tail, globals_, own)
        return [*head, *moved, name, *kept]

    def invoke(self, ctx: Context) -> Any:
        """The one error boundary (Django's ``run_from_argv``): a ManageError from any command,
        or from loading the project's commands, becomes ``Error: ...`` on stderr and its exit
        code (a ``sys.exit()`` from project code under a built-in command arrives here as a
        ProjectExitError: see ``manage.cli.app``)."""
        try:
            return super().invoke(ctx)
        except ManageError as exc:
            raise typer.Exit(report(_state(ctx), exc)) from None

    def _load_extra(self, ctx: Context) -> dict[str, Command]:
        """The project's and plugins' commands, loaded once; an error is kept for ``_extra``."""
        if "manage.extra" not in ctx.meta:
            from manage.core.plugins import configured_modules, find_commands

            try:
                params, raw = ctx.params, ctx.meta.get("manage.args", [])
                options = _options(self.get_params(ctx))
                project = params.get("project") or _raw_option(raw, options, "-C", "--project")
                settings = params.get("settings") or _raw_option(raw, options, "--settings")
                configured = configured_modules(settings, project)
                root, modules = configured or (None, ())
                found = find_commands(modules, root, builtin=BUILTINS)
                ctx.meta["manage.extra"] = _click_commands(found)
            except Exception as exc:
                if not isinstance(exc, ManageError):
                    from manage.core.settings import describe_exception

                    exc = commands_failed_to_load(describe_exception(exc))
                ctx.meta["manage.extra"] = {}
                ctx.meta["manage.extra_error"] = exc
        extra: dict[str, Command] = ctx.meta["manage.extra"]
        return extra

    def _extra(self, ctx: Context, *, strict: bool) -> dict[str, Command]:
        """The project's and plugins' commands; a loading error is raised (``strict``: a
        command that may be one of them was named) or shown as a warning, once."""
        extra = self._load_extra(ctx)
        error = ctx.meta.get("manage.extra_error")
        if error is not None and not ctx.meta.get("manage.extra_reported"):
            ctx.meta["manage.extra_reported"] = True
            if strict:
                raise error  # reported by invoke, the boundary
            _state(ctx).note(commands_still_work(error))
        return extra


def _state(ctx: Context) -> CliState:
    """The CLI's state; before the root callback ran (a command being looked up), one with the
    colour option as given."""
    if isinstance(ctx.obj, CliState):
        return ctx.obj
    return CliState(color=False if ctx.params.get("no_color") else None)


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


def _options(params: list[Parameter]) -> dict[str, int]:
    """Each option string of ``params`` (``-v``, ``--verbosity``), with how many values follow
    it (0 for a flag)."""
    found: dict[str, int] = {}
    for param in params:
        if getattr(param, "param_type_name", None) != "option":
            continue
        flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        for name in (*param.opts, *param.secondary_opts):
            found[name] = 0 if flag else max(param.nargs, 1)
    return found


def _every_param(command: Command, ctx: Context) -> list[Parameter]:
    """The parameters of ``command`` and, for a group, of every command below it."""
    params = list(command.get_params(ctx))
    for sub in getattr(command, "commands", {}).values():
        params += _every_param(sub, ctx)
    return params


def _match(token: str, options: dict[str, int]) -> tuple[str, int] | None:
    """The option ``token`` names, with how many of the next tokens are its values: ``-v 2``
    (1), ``-v2`` and ``--verbosity=2`` (0), ``--traceback`` (0); None for another word."""
    if token in options:
        return token, options[token]
    if token.startswith("--") and "=" in token:
        name = token.split("=", 1)[0]
        return (name, 0) if options.get(name) else None
    if token.startswith("-") and not token.startswith("--") and len(token) > 2:
        return (token[:2], 0) if options.get(token[:2]) else None
    return None


def _first_word(args: list[str], options: dict[str, int]) -> int | None:
    """Where the command name is in ``args``: the first word that is no option's value."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return None
        if arg == "-" or not arg.startswith("-"):
            return index
        found = _match(arg, options)
        index += 1 + (found[1] if found else 0)
    return None


def _pull(
    tail: list[str], globals_: dict[str, int], own: dict[str, int]
) -> tuple[list[str], list[str]]:
    """The global options in ``tail`` (what follows the command name) and the rest, each in
    order; the command's ``own`` options and their values stay, and so does all after ``--``."""
    moved: list[str] = []
    kept: list[str] = []
    index = 0
    while index < len(tail):
        arg = tail[index]
        if arg == "--":
            kept += tail[index:]
            break
        if (found := _match(arg, own)) is not None:
            kept += tail[index : index + 1 + found[1]]
        elif (found := _match(arg, globals_)) is not None:
            moved += tail[index : index + 1 + found[1]]
        else:
            kept.append(arg)
            found = (arg, 0)
        index += 1 + found[1]
    return moved, kept


def _raw_option(args: list[str], options: dict[str, int], *names: str) -> str | None:
    """The value of a global option in the raw arguments (before the command name, where
    parse_args has moved them); the last one given wins."""
    value = None
    index = 0
    while index < len(args):
        arg = args[index]
        found = _match(arg, options)
        if found is None:
            return value  # the command (or --): what follows is its own
        name, count = found
        if name in names:
            if count and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(name) and len(arg) > len(name):
                value = arg[len(name) :].removeprefix("=")
        index += 1 + count
    return value


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

            target = item.callback if item.callback is not None else item.instance
            where = getattr(target, "__module__", "?")
            name = getattr(target, "__qualname__", None) or item.name
            description = describe_exception(exc)
            raise command_cannot_be_built(
                item.name, item.origin, f"{where}.{name}", description
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
