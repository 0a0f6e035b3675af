"""``manage shell``: a Python shell (IPython or the plain REPL) with the models, an engine, a
session and the settings loaded; or ``-c CODE`` run with them."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from sqlalchemy import MetaData, func, select
from sqlalchemy.orm import Mapper, Session, registry

from manage.core.database import make_engine
from manage.core.discovery import load_metadata
from manage.core.drivers import on_driver
from manage.core.settings import Settings
from manage.errors import ShellError

INTERFACES = ("ipython", "python")
CODE_FILENAME = "<manage shell -c>"


def pick_interface(interface: str | None) -> str:
    """The interface to start: ``interface``, or IPython when installed, else the plain REPL.

    Raises:
        ShellError: ``interface`` is not one of :data:`INTERFACES`, or is ``ipython`` and IPython
            is not installed.
    """
    if interface not in (None, *INTERFACES):
        raise ShellError(
            f"Unknown shell interface '{interface}'. Use one of: {', '.join(INTERFACES)}."
        )
    installed = importlib.util.find_spec("IPython") is not None
    if interface == "ipython" and not installed:
        raise ShellError(
            "IPython is not installed. Install it (pip install ipython), "
            "or use the plain Python shell with -i python."
        )
    return interface or ("ipython" if installed else "python")


@on_driver
def shell(settings: Settings, *, command: str | None = None, interface: str | None = None) -> None:
    """Run ``command`` with the shell's namespace, or start an interactive shell with it.

    Exceptions of ``command`` propagate as they are (with the frames of ``<manage shell -c>``).

    Raises:
        ShellError: a bad ``interface`` (checked before anything is imported or connected).
    """
    chosen = pick_interface(interface) if command is None else None
    namespace = shell_namespace(settings)
    try:
        if command is not None:
            exec(compile(command, CODE_FILENAME, "exec"), namespace)
        elif chosen == "ipython":
            import IPython  # type: ignore[import-not-found, unused-ignore]

            IPython.start_ipython(argv=[], user_ns=namespace, display_banner=False)
        else:
            import code

            names = ", ".join(sorted(namespace))
            code.interact(banner=f"manage shell: {names}", local=namespace, exitmsg="")
    finally:
        namespace["session"].close()
        namespace["engine"].dispose()


def shell_namespace(settings: Settings) -> dict[str, Any]:
    """What ``manage shell`` starts with: each mapped class by name, ``engine``, ``session``
    (a Session on the project's database), ``settings``, ``metadata``, and SQLAlchemy's
    ``select`` and ``func``.

    Close ``session`` and dispose of ``engine`` when done.
    """
    found = load_metadata(settings)
    metadatas = found if isinstance(found, tuple) else (found,)
    namespace: dict[str, Any] = dict(models(metadatas))
    engine = make_engine(settings.database_url)
    namespace.update(
        engine=engine,
        session=Session(engine),
        settings=settings,
        metadata=metadatas[0] if len(metadatas) == 1 else metadatas,
        select=select,
        func=func,
    )
    return namespace


def models(metadatas: tuple[MetaData, ...]) -> dict[str, type]:
    """The mapped classes whose tables are in ``metadatas``, by class name.

    They are found through the mapper registries (a Base's ``registry``): those of the Bases,
    registries and mapped classes that imported modules define, wherever the modules live.
    """
    found: dict[str, type] = {}
    for mapper in sorted(_mappers(), key=lambda m: (m.class_.__name__, m.class_.__module__)):
        table = getattr(mapper.local_table, "metadata", None)
        if any(table is m for m in metadatas):
            found.setdefault(mapper.class_.__name__, mapper.class_)
    return dict(sorted(found.items()))


def _mappers() -> list[Mapper[Any]]:
    registries: dict[int, registry] = {}
    for module in list(sys.modules.values()):
        try:
            members = list(vars(module).values())
        except TypeError:
            continue
        for value in members:
            if isinstance(value, registry):
                registries.setdefault(id(value), value)
            elif isinstance(value, type):
                # Read the class's own dict: no descriptor of someone else's class runs.
                own = value.__dict__
                candidate = own.get("registry")
                mapper = own.get("__mapper__")
                if isinstance(mapper, Mapper):
                    candidate = mapper.registry
                if isinstance(candidate, registry):
                    registries.setdefault(id(candidate), candidate)
    return [mapper for reg in registries.values() for mapper in reg.mappers]
