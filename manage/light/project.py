"""THE project resolver: which project a command runs in, and the raw inputs of its settings.

Every path that needs the project (the launcher, the fast answers of :mod:`manage.quick`, the
remembered answers, plugin commands, :func:`manage.core.settings.load_settings`) asks
:func:`resolve`, so they cannot disagree about which ``pyproject.toml`` holds the settings. The
TOML is parsed (never searched as text): ``[tool.manage]``, ``[tool]`` with ``manage.models = ...``
and ``manage = { models = ... }`` are one table to TOML, and so to ``manage``.

Standard library only (``tomli`` on Python 3.10, as ``tomllib`` backport); nothing is validated
here beyond the table's shape and keys, and nothing is imported from the project.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manage.errors import SettingsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# [tool.manage] key -> settings-module attribute.
SETTING_NAMES: dict[str, str] = {
    "models": "MODELS",
    "database_url": "DATABASE_URL",
    "migrations": "MIGRATIONS",
    "version_table": "VERSION_TABLE",
    "version_table_schema": "VERSION_TABLE_SCHEMA",
    "import": "IMPORT",
    "exclude_tables": "EXCLUDE_TABLES",
    "include_object": "INCLUDE_OBJECT",
    "shadow_database_url": "SHADOW_DATABASE_URL",
    "commands": "COMMANDS",
    "bootstrap": "BOOTSTRAP",
}
PYPROJECT_ORIGIN = "pyproject.toml [tool.manage]"

FIRST_READ_NS: int | None = None
"""When this process first read a project file (``time.time_ns()``): a file whose change time is
later (give or take the file system's clock) may have changed after it was read."""


@dataclass(frozen=True, slots=True)
class UrlInputs:
    """Every raw input of the database URL, before any is chosen or validated."""

    cli: str | None
    """``--database-url``."""
    environ: str | None
    """``DATABASE_URL`` as the process found it (before any ``.env`` is applied)."""
    dotenv_file: Path | None
    """The project's ``.env``, when there is one (python-dotenv reads it)."""
    setting: object | None
    """``database_url`` of ``[tool.manage]`` (or ``DATABASE_URL`` of a settings module: the
    loader fills that in after importing it)."""


@dataclass(frozen=True, slots=True)
class Project:
    """Where the project is, and where each of its settings comes from."""

    root: Path
    pyproject: Path | None
    """The ``pyproject.toml`` holding ``table``; with a settings module, the nearest one."""
    table: Mapping[str, Any]
    """The raw ``[tool.manage]`` table; empty with a settings module."""
    settings_module: str | None
    settings_module_source: str | None
    """``--settings`` or ``MANAGE_SETTINGS_MODULE``."""
    urls: UrlInputs
    source: Mapping[str, str] = field(default_factory=dict)
    """Setting name -> where its raw value comes from."""

    @property
    def origin(self) -> str:
        """Where the settings come from, as messages name it."""
        if self.settings_module:
            return f"settings module {self.settings_module}"
        return PYPROJECT_ORIGIN


def resolve(
    start: str | os.PathLike[str] | None = None,
    *,
    settings_module: str | None = None,
    database_url: str | None = None,
) -> Project | None:
    """The project around ``start`` (the current folder by default); None when there is none.

    A settings module (``settings_module``, else ``MANAGE_SETTINGS_MODULE``) makes the folder of
    the nearest ``pyproject.toml`` (else ``start``) the root. Otherwise the root is the folder of
    the first ``pyproject.toml`` upward whose parsed TOML has a ``tool.manage`` table.

    Raises:
        SettingsError: ``start`` is not a folder, a ``pyproject.toml`` on the way is not valid
            TOML, or the table is not a table or holds an unknown setting.
    """
    global FIRST_READ_NS
    if FIRST_READ_NS is None:
        FIRST_READ_NS = time.time_ns()
    folder = Path(start if start is not None else os.getcwd()).resolve()
    if not folder.is_dir():
        raise SettingsError(
            f"Project folder '{folder}' does not exist. Pass an existing folder to -C."
        )
    module, module_source = settings_module, "--settings"
    if not module and os.environ.get("MANAGE_SETTINGS_MODULE"):
        module, module_source = os.environ["MANAGE_SETTINGS_MODULE"], "MANAGE_SETTINGS_MODULE"
    if module:
        nearest = next(
            (f / "pyproject.toml" for f in (folder, *folder.parents) if _is_file(f)), None
        )
        root = nearest.parent if nearest is not None else folder
        source = {"project_root": f"folder of the nearest pyproject.toml ({module_source})"}
        return Project(
            root, nearest, {}, module, module_source, _urls(root, database_url, None), source
        )
    for each in (folder, *folder.parents):
        if not _is_file(each):
            continue
        path = each / "pyproject.toml"
        table = manage_table(path)
        if table is None:
            continue
        source = {"project_root": str(path), **dict.fromkeys(table, PYPROJECT_ORIGIN)}
        urls = _urls(each, database_url, table.get("database_url"))
        return Project(each, path, table, None, None, urls, source)
    return None


def _is_file(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file()


def manage_table(path: Path) -> dict[str, Any] | None:
    """The ``tool.manage`` table of the TOML file ``path``, checked for shape and keys; None
    when it has none.

    Raises:
        SettingsError: the file is not valid TOML, or the table is not a table or holds an
            unknown setting.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path} is not valid UTF-8: {exc}. Fix the file.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}. Fix the file.") from exc
    tool = data.get("tool")
    table = tool.get("manage") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise SettingsError(f"[tool.manage] in {path} must be a table. Fix the file.")
    unknown = sorted(set(table) - set(SETTING_NAMES))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(SETTING_NAMES), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SettingsError(
            f"Unknown setting {unknown[0]!r} in [tool.manage] ({path}).{hint} "
            f"Valid settings: {', '.join(SETTING_NAMES)}."
        )
    return dict(table)


def _urls(root: Path, cli: str | None, setting: object | None) -> UrlInputs:
    dotenv = root / ".env"
    return UrlInputs(
        cli=cli,
        environ=os.environ.get("DATABASE_URL"),
        dotenv_file=dotenv if dotenv.is_file() else None,
        setting=setting,
    )


def choose_url(
    urls: UrlInputs, dotenv: Mapping[str, str | None], origin: str
) -> tuple[object | None, str]:
    """The raw database URL and its source, by precedence: ``--database-url``,
    ``DATABASE_URL`` (the environment's, else the ``.env`` file's: ``dotenv`` holds its values),
    the setting (as given: maybe not a string); ``(None, "default")`` for the default SQLite
    file. An empty value counts as unset."""
    if urls.cli:
        return urls.cli, "--database-url"
    if urls.environ is not None:  # set, even empty: .env does not override it
        if urls.environ:
            return urls.environ, "DATABASE_URL environment variable"
    elif dotenv.get("DATABASE_URL"):
        return dotenv["DATABASE_URL"], ".env"
    if urls.setting is not None:
        return urls.setting, origin  # validated by the caller
    return None, "default"
