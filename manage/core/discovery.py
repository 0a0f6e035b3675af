"""Find the project's MetaData from the ``models`` setting, and its include_object filter."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from typing import Any

from sqlalchemy import MetaData

from manage.core.bytecode import compiled_in
from manage.core.history import HISTORY_TABLE
from manage.core.settings import (
    ModelsSpec,
    Settings,
    cache_dir,
    describe_exception,
    import_module,
    import_string,
)
from manage.errors import DiscoveryError

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]

_FIX = 'Point models at your declarative Base, e.g. models = "shop.models:Base".'


def load_metadata(settings: Settings) -> MetaData | tuple[MetaData, ...]:
    """Import ``import`` modules, then the models; return Alembic's ``target_metadata``.

    Raises:
        DiscoveryError: a module does not import, or names no Base/MetaData.
    """
    with compiled_in(cache_dir() / "pycache"):  # never a stale compiled file (issue 11)
        return _load_metadata(settings)


def _load_metadata(settings: Settings) -> MetaData | tuple[MetaData, ...]:
    for name in settings.imports:
        import_module(name, what="module from the import setting")
    spec = settings.models
    specs: tuple[ModelsSpec, ...] = spec if isinstance(spec, tuple) else (spec,)
    found: list[MetaData] = []
    for item in specs:
        metadata = _metadata_from_spec(item)
        if all(metadata is not m for m in found):
            found.append(metadata)
    return found[0] if len(found) == 1 else tuple(found)


def _metadata_from_spec(spec: ModelsSpec) -> MetaData:
    if not isinstance(spec, str):
        return _as_metadata(spec, _describe(spec))
    if ":" in spec:
        obj = import_string(spec, what="models")
        if inspect.isfunction(obj):
            try:
                obj = obj()
            except Exception as exc:
                raise DiscoveryError(
                    f"Calling '{spec}' to get the models failed: {type(exc).__name__}: {exc}. "
                    "Fix the function, or point models at the Base itself."
                ) from exc
        return _as_metadata(obj, spec)
    module = import_module(spec, what="models")
    candidates: dict[int, tuple[str, MetaData]] = {}
    for name, value in vars(module).items():
        metadata = _metadata_of(value)
        if metadata is not None and _is_base(value):
            candidates.setdefault(id(metadata), (name, metadata))
    if not candidates:
        raise DiscoveryError(
            f"Could not find a DeclarativeBase subclass or MetaData in '{spec}'. {_FIX}"
        )
    if len(candidates) > 1:
        names = ", ".join(f"'{spec}:{name}'" for name, _ in candidates.values())
        raise DiscoveryError(
            f"Module '{spec}' has several Bases/MetaData ({names}). "
            f'Name the one to use, e.g. models = "{spec}:{next(iter(candidates.values()))[0]}", '
            "or list them all."
        )
    return next(iter(candidates.values()))[1]


def _metadata_of(value: object) -> MetaData | None:
    if isinstance(value, MetaData):
        return value
    if isinstance(value, type):
        metadata = getattr(value, "metadata", None)
        if isinstance(metadata, MetaData):
            return metadata
    return None


def _is_base(value: object) -> bool:
    """A MetaData, or a class that owns its ``metadata`` (the Base, not a mapped model)."""
    if isinstance(value, MetaData):
        return True
    return isinstance(value, type) and "metadata" in vars(value)


def _as_metadata(obj: object, label: str) -> MetaData:
    metadata = _metadata_of(obj)
    if metadata is None:
        kind = type(obj).__name__ if not isinstance(obj, type) else f"class {obj.__name__}"
        raise DiscoveryError(
            f"'{label}' is a {kind}, not a DeclarativeBase subclass or MetaData. {_FIX}"
        )
    return metadata


def _describe(obj: object) -> str:
    module = getattr(obj, "__module__", "")
    name = getattr(obj, "__qualname__", type(obj).__qualname__)
    return f"{module}:{name}" if module else str(name)


def include_object_filter(settings: Settings) -> IncludeObject | None:
    """Combine ``exclude_tables`` globs and the ``include_object`` hook into Alembic's hook.

    manage's own history table is always left out, like Alembic's version table.
    """
    patterns = (*settings.exclude_tables, HISTORY_TABLE)
    hook = settings.include_object
    if isinstance(hook, str):
        resolved = import_string(hook, what="include_object")
        if not callable(resolved) or isinstance(resolved, type):
            kind = "class" if isinstance(resolved, type) else type(resolved).__name__
            raise DiscoveryError(
                f"include_object '{hook}' is a {kind}, not a function. "
                "Point it at a function(object, name, type_, reflected, compare_to) -> bool."
            )
        hook = resolved
    user_hook = hook

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        table_name = (
            name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        )
        if table_name and any(fnmatch.fnmatchcase(table_name, p) for p in patterns):
            return False
        if user_hook is None:
            return True
        try:
            return bool(user_hook(obj, name, type_, reflected, compare_to))
        except Exception as exc:
            raise DiscoveryError(
                f"The include_object hook failed on {type_} {name!r}: {describe_exception(exc)}. "
                "Fix the hook."
            ) from exc

    return include_object
