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

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

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
    "autogenerate_plugins": "AUTOGENERATE_PLUGINS",
    "bootstrap": "BOOTSTRAP",
    "ddl_lock_timeout": "DDL_LOCK_TIMEOUT",
    "ddl_retries": "DDL_RETRIES",
    "safe_ddl": "SAFE_DDL",
}
PYPROJECT_ORIGIN = "pyproject.toml [tool.manage]"
DATABASES = "databases"
"""``[tool.manage.databases.NAME]``: several databases, each a table of the settings above."""
PROJECT_WIDE = ("commands", "import")
"""What ``[tool.manage]`` itself may hold beside ``databases`` (the rest is per database)."""
DIALECT_KEYS = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle", "default")
"""The keys of a per-dialect ``migrations`` table."""

FIRST_READ_NS: int | None = None
"""When this process first read a project file (``time.time_ns()``): a file whose change time is
later (give or take the file system's clock) may have changed after it was read."""


class UrlInputs(NamedTuple):
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


class Project(NamedTuple):
    """Where the project is, and where each of its settings comes from. (NamedTuples, not
    dataclasses, here and in the registry: the launcher imports this on every run.)"""

    root: Path
    pyproject: Path | None
    """The ``pyproject.toml`` holding ``table``; with a settings module, the nearest one."""
    table: Mapping[str, Any]
    """The raw ``[tool.manage]`` table; empty with a settings module."""
    settings_module: str | None
    settings_module_source: str | None
    """``--settings`` or ``MANAGE_SETTINGS_MODULE``."""
    urls: UrlInputs
    source: Mapping[str, str] = MappingProxyType({})
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
    _known_keys(table, "[tool.manage]", path, [*SETTING_NAMES, DATABASES])
    databases = table.get(DATABASES)
    if databases is not None:
        if not isinstance(databases, dict) or not databases:
            raise SettingsError(
                f"[tool.manage.databases] in {path} must hold one table per database, e.g. "
                '[tool.manage.databases.default] with models = "shop.models:Base". Fix the file.'
            )
        misplaced = sorted(set(table) - {DATABASES, *PROJECT_WIDE})
        if misplaced:
            raise SettingsError(
                f"[tool.manage] in {path} sets {misplaced[0]!r} beside [tool.manage.databases]: "
                f"with several databases, set it in each [tool.manage.databases.NAME] table "
                f"(only {', '.join(PROJECT_WIDE)} are project-wide). Fix the file."
            )
        for name, each in databases.items():
            where = f"[tool.manage.databases.{name}]"
            if not isinstance(each, dict):
                raise SettingsError(f"{where} in {path} must be a table. Fix the file.")
            if not name.isidentifier():
                raise SettingsError(
                    f"The database name {name!r} in {path} is not an identifier. Use letters, "
                    'digits and underscores, e.g. "analytics".'
                )
            _known_keys(each, where, path, [k for k in SETTING_NAMES if k != "commands"])
    return dict(table)


def _known_keys(table: Mapping[str, Any], where: str, path: Path, valid: list[str]) -> None:
    unknown = sorted(set(table) - set(valid))
    if unknown:
        import difflib  # only for a misspelt setting: not on every run's path

        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SettingsError(
            f"Unknown setting {unknown[0]!r} in {where} ({path}).{hint} "
            f"Valid settings: {', '.join(valid)}."
        )


def database_names(table: Mapping[str, Any]) -> tuple[str, ...]:
    """The databases of ``[tool.manage.databases]``, in declared order; () for the single form."""
    databases = table.get(DATABASES)
    return tuple(databases) if isinstance(databases, dict) else ()


def database_table(table: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The settings of database ``name``: its own table, plus the project-wide keys."""
    own = dict(table[DATABASES][name])
    for key in PROJECT_WIDE:
        if key in table:
            own.setdefault(key, table[key])
    return own


def url_variables(name: str | None, first: bool) -> tuple[str, ...]:
    """The environment variables that give database ``name`` its URL, the winner first:
    ``<NAME>_DATABASE_URL``, and ``DATABASE_URL`` for the first declared (or only) database."""
    if name is None:
        return ("DATABASE_URL",)
    own = f"{name.upper()}_DATABASE_URL"
    return (own, "DATABASE_URL") if first else (own,)


def database_url_inputs(
    urls: UrlInputs, name: str, first: bool, dotenv: Mapping[str, str]
) -> tuple[UrlInputs, dict[str, str]]:
    """The URL inputs of database ``name`` (``<NAME>_DATABASE_URL``; for the first declared also
    ``DATABASE_URL``), from the environment as the process found it, and from ``.env``
    (``dotenv``: what it applied), the latter as :func:`choose_url` reads it."""
    environ = None
    variables = url_variables(name, first)
    for variable in variables:
        value = os.environ.get(variable)
        if value and dotenv.get(variable) != value:  # set by the process, not by .env
            environ = value
            break
    from_file = next((dotenv[v] for v in variables if dotenv.get(v)), "")
    return urls._replace(environ=environ), {"DATABASE_URL": from_file}


def migrations_for(values: Mapping[str, Any], dialect: str, shown_url: str, origin: str) -> object:
    """The ``migrations`` setting, or, when it is a table of folders per dialect, the folder for
    ``dialect`` (of the URL in effect, ``--database-url`` included).

    Raises:
        SettingsError: the table has a key that is no dialect, or no folder for ``dialect``.
    """
    value = values.get("migrations", "migrations")
    if not isinstance(value, dict):
        return value
    unknown = sorted(set(value) - set(DIALECT_KEYS))
    if unknown:
        raise SettingsError(
            f"migrations ({origin}) has the key {unknown[0]!r}, which is no dialect: use "
            f"{', '.join(DIALECT_KEYS)}. Fix the setting."
        )
    chosen = choose_migrations(value, dialect)
    if chosen is None:
        raise SettingsError(
            f"migrations ({origin}) names no folder for {dialect}, the dialect of "
            f'{shown_url}. Add {dialect} = "migrations/{dialect}" (or default = ...) to it.'
        )
    return chosen


def module_databases(databases: object, module: str) -> dict[str, dict[str, Any]]:
    """A settings module's ``DATABASES`` (``{"default": {"MODELS": ...}}``) as the tables of
    ``[tool.manage.databases]``.

    Raises:
        SettingsError: it is not a dict of dicts.
    """
    if not isinstance(databases, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in databases.items()
    ):
        raise SettingsError(
            f"DATABASES in settings module '{module}' must be a dict of dicts, e.g. "
            '{"default": {"MODELS": "shop.models:Base"}}. Fix the setting.'
        )
    return {
        name: {key: each[attr] for key, attr in SETTING_NAMES.items() if attr in each}
        for name, each in databases.items()
    }


def choose_migrations(value: object, dialect: str) -> object:
    """The ``migrations`` folder for ``dialect`` (the backend of the URL in effect): a string is
    every dialect's; a table is keyed by dialect (``mysql`` and ``mariadb`` stand for each other),
    else ``default``. None when the table has no entry for it."""
    if not isinstance(value, dict):
        return value
    for key in (dialect, {"mysql": "mariadb", "mariadb": "mysql"}.get(dialect), "default"):
        if key is not None and key in value:
            return value[key]
    return None


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
