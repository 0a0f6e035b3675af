"""Project and plugin commands: the ``command`` decorator, the Context, and finding the commands.

Nothing here imports typer or SQLAlchemy at import time: a Typer app is recognised by its shape,
and the Engine of a :class:`Context` is made on first use.
"""

from __future__ import annotations

import inspect
import os
import sys
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from manage.errors import ManageError, ProjectCommandError, SettingsError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from manage.core.settings import Settings

ENTRY_POINT_GROUP = "manage.commands"
PROJECT_PANEL = "Project commands"
PLUGIN_PANEL = "Plugin commands"

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
_MARK = "__manage_command__"


@dataclass(frozen=True, slots=True)
class CommandMark:
    """What ``@command(...)`` records on a function."""

    name: str | None = None
    help: str | None = None


@overload
def command(function: F, /) -> F: ...
@overload
def command(*, name: str | None = None, help: str | None = None) -> Callable[[F], F]: ...
def command(
    function: F | None = None, /, *, name: str | None = None, help: str | None = None
) -> F | Callable[[F], F]:
    """Make a function a ``manage`` command: ``@command()`` or ``@command(name="seed-db")``.

    The function's parameters become the command's arguments and options, as with Typer; a
    parameter annotated with :class:`manage.Context` receives the project's context instead.
    """

    def mark(fn: F) -> F:
        setattr(fn, _MARK, CommandMark(name, help))
        return fn

    return mark(function) if function is not None else mark


class Context:
    """What a project command may ask for: the Settings, an Engine and Sessions, made on first use.

    Example::

        @command()
        def seed(ctx: Context) -> None:
            with ctx.session() as session, session.begin():
                session.add(Author(name="Ursula K. Le Guin"))
    """

    def __init__(self, settings: Settings | Callable[[], Settings]) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        """The project's Settings (loaded when first asked for)."""
        value = self._settings
        return value if not callable(value) else value()

    @cached_property
    def engine(self) -> Engine:
        """An Engine on the project's database; disposed when the command ends."""
        from manage.core.database import make_engine

        return make_engine(self.settings.database_url)

    @cached_property
    def sessionmaker(self) -> sessionmaker[Session]:
        """A session factory bound to :attr:`engine`."""
        from sqlalchemy.orm import sessionmaker

        return sessionmaker(bind=self.engine)

    def session(self) -> Session:
        """A new Session on the project's database (use it as a context manager)."""
        return self.sessionmaker()

    def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)``, on the event loop of an asyncio driver when the
        project's database URL names one, so that :attr:`engine` and sessions work in it."""
        from manage.core.drivers import run_on_driver, settings_urls

        try:
            urls = settings_urls(self.settings)
        except ManageError:  # said again if the command asks for the settings
            urls = ()
        return run_on_driver(urls, function, *args, **kwargs)

    def close(self) -> None:
        """Dispose of the Engine, if one was made."""
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.dispose()


@dataclass(frozen=True, slots=True)
class ProjectCommand:
    """One command a project module or a plugin adds."""

    name: str
    origin: str
    """Where it comes from, for messages: ``project module 'shop.commands'``, ``plugin 'x'``."""
    panel: str
    callback: Callable[..., Any] | None = None
    """The function behind the command (None for a Typer group)."""
    help: str | None = None
    app: Any = None
    """The Typer app it belongs to, or None for an ``@command`` function."""
    group: bool = False
    instance: Any = None
    """For a group, its Typer app."""


@dataclass(frozen=True, slots=True)
class ProjectCommands:
    """The commands found, by name, in the order they were found."""

    commands: dict[str, ProjectCommand] = field(default_factory=dict)
    apps: tuple[tuple[Any, str, str], ...] = ()
    """(Typer app, origin, panel) for each app found."""


def configured_modules(
    settings_module: str | None, cwd: str | os.PathLike[str] | None
) -> tuple[Path, tuple[str, ...]] | None:
    """The project root and its ``commands`` setting, read without importing the models.

    None when there is no project, or it sets no commands (``manage --help`` outside a project).
    """
    from manage.core import settings as settings_
    from manage.light.project import resolve

    try:
        project = resolve(cwd, settings_module=settings_module)
    except SettingsError:
        if cwd is not None and not Path(cwd).is_dir():
            return None
        raise
    if project is None:
        return None
    root, origin = project.root, project.origin
    if project.settings_module:
        settings_.prepend_sys_path(root)
        module = settings_.import_module(
            project.settings_module, what="settings module", error=SettingsError
        )
        value = getattr(module, "COMMANDS", ())
    else:
        value = project.table.get("commands", ())
    modules = settings_.require_str_list(value, "commands", origin)
    return (root, modules) if modules else None


def find_commands(
    modules: Iterable[str],
    root: Path | None,
    *,
    builtin: Iterable[str],
    entry_points: bool = True,
) -> ProjectCommands:
    """Import the project's command modules and the installed plugins; collect their commands.

    Raises:
        ProjectCommandError: a module fails to import, or two sources define the same name.
    """
    from manage.core.settings import import_module

    if root is not None and str(root) not in sys.path:
        sys.path.insert(0, str(root))
    found = ProjectCommands()
    apps: list[tuple[Any, str, str]] = []
    builtins = set(builtin)
    sources: list[tuple[object, str, str]] = []
    for name in modules:
        module = import_module(name, what="project commands module", error=ProjectCommandError)
        sources.append((module, f"project module '{name}'", PROJECT_PANEL))
    if entry_points:
        sources += _plugins()
    for obj, origin, panel in sources:
        for item in _commands_of(obj, origin, panel, apps):
            _add(found.commands, item, builtins)
    return ProjectCommands(found.commands, tuple(apps))


def _may_have_plugins() -> bool:
    """False when no installed distribution can declare a ``manage.commands`` entry point: every
    ``sys.path`` entry is a folder, and none of their ``*.dist-info``/``*.egg-info`` metadata
    mentions the group. Cheaper than importing importlib.metadata (~10 ms), which ``manage
    --help`` would otherwise do on every run; any other layout is left to importlib.metadata."""
    for entry in sys.path:
        folder = Path(entry or ".")
        if not folder.exists():
            continue
        if not folder.is_dir():
            return True  # a zip file or something else: importlib.metadata knows
        try:
            with os.scandir(folder) as items:
                names = [i.name for i in items if i.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            return True
        for name in names:
            try:
                text = (folder / name / "entry_points.txt").read_bytes()
            except FileNotFoundError:
                continue
            except OSError:
                return True
            if ENTRY_POINT_GROUP.encode() in text:
                return True
    return False


def _plugins() -> list[tuple[object, str, str]]:
    if not _may_have_plugins():
        return []
    from importlib.metadata import entry_points

    loaded = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        dist = point.dist.name if point.dist is not None else "?"
        origin = f"plugin '{dist}' (entry point '{point.name} = {point.value}')"
        try:
            obj = point.load()
        except Exception as exc:
            from manage.core.settings import describe_exception

            raise ProjectCommandError(
                f"Could not load the commands of {origin}: {describe_exception(exc)}. "
                f"Fix or uninstall '{dist}'."
            ) from exc
        loaded.append((obj, origin, PLUGIN_PANEL))
    return loaded


def _commands_of(
    obj: object, origin: str, panel: str, apps: list[tuple[Any, str, str]]
) -> list[ProjectCommand]:
    members = list(vars(obj).values()) if isinstance(obj, ModuleType) else [obj]
    found: list[ProjectCommand] = []
    seen: set[int] = set()
    for member in members:
        if id(member) in seen:
            continue
        seen.add(id(member))
        mark = getattr(member, _MARK, None)
        if isinstance(mark, CommandMark) and callable(member):
            name = mark.name or command_name(member.__name__)
            found.append(ProjectCommand(name, origin, panel, member, mark.help))
        elif is_typer_app(member):
            apps.append((member, origin, panel))
            found += _typer_commands(member, origin, panel)
    if not isinstance(obj, ModuleType) and not found:
        raise ProjectCommandError(
            f"The {origin} is neither a module, a Typer app nor an @command function. "
            "Point the entry point at one of them."
        )
    return found


def is_typer_app(obj: object) -> bool:
    """True for a ``typer.Typer`` (recognised by its type, so that typer is not imported)."""
    kind = type(obj)
    return kind.__name__ == "Typer" and kind.__module__.split(".")[0] == "typer"


def _typer_commands(app: Any, origin: str, panel: str) -> list[ProjectCommand]:
    info_name = getattr(app.info, "name", None)
    if isinstance(info_name, str) and info_name:
        return [ProjectCommand(info_name, origin, panel, None, None, app, True, app)]
    found = []
    for info in app.registered_commands:
        if info.callback is None:
            continue
        name = info.name if isinstance(info.name, str) else command_name(info.callback.__name__)
        found.append(ProjectCommand(name, origin, panel, info.callback, None, app))
    for group in app.registered_groups:
        instance = group.typer_instance
        group_name = group.name if isinstance(group.name, str) else instance.info.name
        if isinstance(group_name, str) and group_name:
            found.append(ProjectCommand(group_name, origin, panel, None, None, app, True, instance))
    return found


def command_name(function_name: str) -> str:
    """Typer's rule: ``seed_books`` becomes ``seed-books``."""
    return function_name.lower().replace("_", "-")


def _add(commands: dict[str, ProjectCommand], item: ProjectCommand, builtins: set[str]) -> None:
    if item.name in builtins:
        raise ProjectCommandError(
            f"The command '{item.name}' of {item.origin} clashes with the built-in command "
            f"'{item.name}' of manage. Rename it, e.g. @command(name=\"{item.name}-project\")."
        )
    other = commands.get(item.name)
    same = other is not None and (
        (other.callback is not None and other.callback is item.callback)
        or (other.instance is not None and other.instance is item.instance)
    )
    if other is not None and not same:
        raise ProjectCommandError(
            f"Two commands are named '{item.name}': one in {other.origin}, one in {item.origin}. "
            "Rename one of them (or uninstall the plugin)."
        )
    commands[item.name] = item


def context_parameters(function: Callable[..., Any]) -> tuple[inspect.Signature, list[str]]:
    """The function's signature with annotations resolved, and the names asking for a Context.

    Raises:
        ProjectCommandError: the annotations do not resolve (e.g. a name imported only under
            ``TYPE_CHECKING`` with ``from __future__ import annotations``).
    """
    try:
        hints = typing.get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
    except Exception as exc:
        where = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
        code = getattr(function, "__code__", None)
        if code is not None:
            where += f" ({code.co_filename}, line {code.co_firstlineno})"
        raise ProjectCommandError(
            f"The type hints of the command function {where} do not resolve: "
            f"{type(exc).__name__}: {exc}. Import the names its parameters use at run time "
            "(not only under TYPE_CHECKING)."
        ) from exc
    wanted = [name for name in signature.parameters if hints.get(name) is Context]
    parameters = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    return signature.replace(
        parameters=parameters, return_annotation=hints.get("return", signature.return_annotation)
    ), wanted
