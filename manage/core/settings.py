"""Settings and load_settings(): the only code reading env vars, .env, pyproject and sys.path."""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from manage.core.urls import dialect_of, has_unencoded_at, mask_url
from manage.errors import DiscoveryError, ManageError, SettingsError
from manage.light.cachefs import cache_dir as cache_dir  # the cache folder, for core's modules
from manage.light.project import SETTING_NAMES
from manage.light.signals import Terminated

ModelsSpec = str | tuple[str, ...] | object
"""An import path ``module[:attr]``, several, or (from a settings module) the object itself."""

DEFAULT_MIGRATIONS = "migrations"
DEFAULT_VERSION_TABLE = "alembic_version"
DEFAULT_DATABASE_FILE = "db.sqlite3"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything ``manage`` knows about a project; build with :func:`load_settings` or directly."""

    project_root: Path
    models: ModelsSpec
    database_url: str = field(repr=False)
    migrations_dir: Path
    version_table: str = DEFAULT_VERSION_TABLE
    version_table_schema: str | None = None
    """The schema the version table lives in (PostgreSQL); None: the connection's default."""
    imports: tuple[str, ...] = ()
    exclude_tables: tuple[str, ...] = ()
    include_object: str | Callable[..., bool] | None = None
    shadow_database_url: str | None = field(default=None, repr=False)
    commands: tuple[str, ...] = ()
    autogenerate_plugins: tuple[str, ...] = ()
    """Alembic's ``autogenerate_plugins`` (1.18+), passed through; () keeps Alembic's default."""
    database: str | None = None
    """Its name in ``[tool.manage.databases]`` (or a settings module's ``DATABASES``); None for
    a project with one database."""
    databases: tuple[str, ...] = ()
    """Every database of the project, in declared order; () for a project with one."""
    bootstrap: str | Callable[..., Any] | None = None
    """A function taking a Connection that creates what the history starts from (tables made
    outside it): run on an empty database before the first migration, and on every replay."""
    ddl_lock_timeout: float = 2.0
    """Seconds each DDL statement of ``migrate`` may wait for a lock (0: no limit)."""
    ddl_retries: int = 5
    """How often ``migrate`` tries again a DDL statement that timed out waiting for a lock."""
    safe_ddl: bool = True
    """Whether ``makemigrations`` writes the lock-light form of each operation on PostgreSQL
    and MySQL/MariaDB (docs/zero-downtime.md); False writes Alembic's plain form."""
    source: Mapping[str, str] = field(default_factory=dict)
    """Setting name -> where its value came from, for ``-v 2``."""

    @property
    def display_url(self) -> str:
        """The database URL with its password masked: the only form that is ever shown."""
        return mask_url(self.database_url)

    @property
    def dialect_name(self) -> str:
        """``sqlite``, ``postgresql``, ``mysql``/``mariadb``, ...: the URL's backend."""
        return dialect_of(self.database_url)

    @property
    def render_as_batch(self) -> bool:
        """SQLite cannot ALTER most things, so its migrations use Alembic's batch mode."""
        return self.dialect_name == "sqlite"

    def version_options(self) -> dict[str, str]:
        """Alembic's ``version_table`` and, when set, ``version_table_schema`` options."""
        options = {"version_table": self.version_table}
        if self.version_table_schema:
            options["version_table_schema"] = self.version_table_schema
        return options

    def autogenerate_options(self) -> dict[str, Any]:
        """The ``autogenerate_plugins`` option of Alembic's ``configure()``, when set."""
        if not self.autogenerate_plugins:
            return {}
        return {"autogenerate_plugins": list(self.autogenerate_plugins)}

    def database_plugins(self) -> tuple[str, ...]:
        """The ``autogenerate_plugins`` beyond Alembic's own (``alembic.autogenerate.*``): they
        may compare objects only a database holds (alembic-utils' views and functions)."""
        return tuple(
            p for p in self.autogenerate_plugins if not p.startswith("alembic.autogenerate")
        )

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, source) for each setting, passwords masked."""
        shadow = mask_url(self.shadow_database_url) if self.shadow_database_url else "-"
        rows = [
            ("project_root", str(self.project_root), self.source.get("project_root", "")),
            ("models", _show(self.models), self.source.get("models", "")),
            ("database_url", self.display_url, self.source.get("database_url", "")),
            ("migrations", str(self.migrations_dir), self.source.get("migrations", "default")),
            ("version_table", self.version_table, self.source.get("version_table", "default")),
            ("import", ", ".join(self.imports) or "-", self.source.get("import", "default")),
            (
                "exclude_tables",
                ", ".join(self.exclude_tables) or "-",
                self.source.get("exclude_tables", "default"),
            ),
            (
                "include_object",
                _show(self.include_object) if self.include_object else "-",
                self.source.get("include_object", "default"),
            ),
            ("shadow_database_url", shadow, self.source.get("shadow_database_url", "default")),
            ("commands", ", ".join(self.commands) or "-", self.source.get("commands", "default")),
            (
                "ddl_lock_timeout",
                f"{self.ddl_lock_timeout:g} s, {self.ddl_retries} retries",
                self.source.get("ddl_lock_timeout", "default"),
            ),
            (
                "bootstrap",
                _show(self.bootstrap) if self.bootstrap else "-",
                self.source.get("bootstrap", "default"),
            ),
            ("safe_ddl", str(self.safe_ddl).lower(), self.source.get("safe_ddl", "default")),
        ]
        if plugins := ", ".join(self.autogenerate_plugins):
            rows.append(
                ("autogenerate_plugins", plugins, self.source.get("autogenerate_plugins", ""))
            )
        if self.database:
            rows.insert(1, ("database", self.database, f"of {', '.join(self.databases)}"))
        return rows


def _show(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value)
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    module = getattr(value, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def load_settings(
    settings_module: str | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    database: str | None = None,
) -> Settings:
    """Find the project and build its Settings.

    Args:
        settings_module: a Django-style settings module (``--settings``); else
            ``MANAGE_SETTINGS_MODULE``; else ``[tool.manage]`` found upward from ``cwd``.
        cwd: where to start looking (``-C/--project``); the current folder by default.
        database_url: ``--database-url``, which beats every other source.
        database: ``--database NAME``: one of ``[tool.manage.databases]``; by default the first
            declared. ``"default"`` names the database of a project with one.

    Raises:
        SettingsError: no project found, no such database, or a setting is invalid.
    """
    project = _find_project(settings_module, cwd, database_url)
    return _load(project, database)


def load_all_settings(
    settings_module: str | None = None,
    *,
    cwd: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
) -> tuple[Settings, ...]:
    """The Settings of every database of the project, in declared order (one for a project with
    one database): what ``migrate``, ``showmigrations``, ``check`` and ``makemigrations`` cover
    without ``--database``.

    Raises:
        SettingsError: as :func:`load_settings`; or ``database_url`` with several databases,
            where it could mean any of them.
    """
    project = _find_project(settings_module, cwd, database_url)
    first = _load(project, None)
    if not first.databases:
        return (first,)
    if database_url:
        raise SettingsError(
            f"--database-url with several databases ({', '.join(first.databases)}) could mean "
            "any of them. Add --database NAME to say which."
        )
    return (first, *(_load(project, name) for name in first.databases[1:]))


def _find_project(
    settings_module: str | None, cwd: str | os.PathLike[str] | None, database_url: str | None
) -> Any:
    from manage.light import project as resolver

    project = resolver.resolve(cwd, settings_module=settings_module, database_url=database_url)
    if project is None:
        start = Path(cwd if cwd is not None else os.getcwd()).resolve()
        raise SettingsError(
            f"No [tool.manage] table in a pyproject.toml in '{start}' or any parent folder. "
            'Add one with models = "yourpackage.models:Base", '
            "or pass --settings with a settings module."
        )
    return project


def _load(project: Any, database: str | None) -> Settings:
    from manage.light import project as resolver

    root, origin = project.root, project.origin
    source: dict[str, str] = dict(project.source)
    _prepend_sys_path(root)
    dotenv_keys = _read_dotenv(root)
    if project.settings_module:
        values = _read_settings_module(project.settings_module)
        for key in values:
            source[key] = origin
    else:
        values = dict(project.table)
    names = resolver.database_names(values)
    if names:
        if database is None:
            database = names[0]
        if database not in names:
            raise SettingsError(
                f"No database {database!r} in {origin}: its databases are {', '.join(names)}. "
                "Pass one of them to --database."
            )
        first = database == names[0]
        values = resolver.database_table(values, database)
        origin = f"{origin} databases.{database}"
        source = {"project_root": source.get("project_root", ""), **dict.fromkeys(values, origin)}
        urls, dotenv_keys = resolver.database_url_inputs(project.urls, database, first, dotenv_keys)
        project = project._replace(urls=urls)
    elif database not in (None, "default"):
        raise SettingsError(
            f"No database {database!r}: the project has one database ('default'). Declare "
            f"several as [tool.manage.databases.NAME] tables in pyproject.toml."
        )
    if project.settings_module and not names:
        _require_models_in_module(values, project.settings_module)

    models = _read_models(values, origin)
    url, source["database_url"] = _resolve_database_url(project, values, dotenv_keys, root)
    shadow = values.get("shadow_database_url")
    if shadow is not None:
        shadow = _normalize_url(_require_str(shadow, "shadow_database_url", origin), root, origin)
    include_object = values.get("include_object")
    if include_object is not None and not callable(include_object):
        include_object = _require_import_path(include_object, "include_object", origin)
    bootstrap = values.get("bootstrap")
    if bootstrap is not None and not callable(bootstrap):
        bootstrap = _require_import_path(bootstrap, "bootstrap", origin)
    version_table = _require_str(
        values.get("version_table", DEFAULT_VERSION_TABLE), "version_table", origin
    )
    if not version_table.isidentifier():
        raise SettingsError(
            f"version_table {version_table!r} ({origin}) is not a valid table name. "
            'Use letters, digits and underscores, e.g. "alembic_version".'
        )
    version_schema = values.get("version_table_schema")
    if version_schema is not None:
        version_schema = _require_str(version_schema, "version_table_schema", origin)
        if not version_schema.isidentifier():
            raise SettingsError(
                f"version_table_schema {version_schema!r} ({origin}) is not a valid schema "
                'name. Use letters, digits and underscores, e.g. "meta".'
            )
    chosen = resolver.migrations_for(values, dialect_of(url), mask_url(url), origin)
    migrations = Path(_require_str(chosen, "migrations", origin))
    if isinstance(values.get("migrations"), dict):
        source["migrations"] = f"{origin}, for {dialect_of(url)} ({source['database_url']})"
    return Settings(
        project_root=root,
        models=models,
        database_url=url,
        migrations_dir=(root / migrations).resolve(),
        version_table=version_table,
        version_table_schema=version_schema,
        imports=_require_str_list(values.get("import", ()), "import", origin),
        exclude_tables=_require_str_list(
            values.get("exclude_tables", ()), "exclude_tables", origin
        ),
        include_object=include_object,
        shadow_database_url=shadow,
        commands=_require_str_list(values.get("commands", ()), "commands", origin),
        autogenerate_plugins=_require_str_list(
            values.get("autogenerate_plugins", ()), "autogenerate_plugins", origin
        ),
        database=database if names else None,
        databases=names,
        bootstrap=bootstrap,
        ddl_lock_timeout=_require_number(values, "ddl_lock_timeout", origin),
        ddl_retries=int(_require_number(values, "ddl_retries", origin)),
        safe_ddl=_require_bool(values.get("safe_ddl", True), "safe_ddl", origin),
        source=source,
    )


def _read_settings_module(name: str) -> dict[str, Any]:
    module = import_module(name, what="settings module", error=SettingsError)
    values = {
        key: getattr(module, attr) for key, attr in SETTING_NAMES.items() if hasattr(module, attr)
    }
    if hasattr(module, "DATABASES"):  # {"default": {"MODELS": ...}, ...}
        from manage.light.project import module_databases

        values["databases"] = module_databases(module.DATABASES, name)
    return values


def _require_models_in_module(values: Mapping[str, Any], name: str) -> None:
    if "models" not in values:
        raise SettingsError(
            f"Settings module '{name}' has no MODELS. "
            'Add MODELS = "yourpackage.models:Base" (or the Base itself) to it.'
        )


def _read_models(values: Mapping[str, Any], origin: str) -> ModelsSpec:
    if "models" not in values:
        raise SettingsError(
            f"No models setting in {origin}. "
            'Add models = "yourpackage.models:Base" naming your declarative Base or MetaData.'
        )
    models = values["models"]
    if isinstance(models, str):
        return _require_import_path(models, "models", origin)
    if isinstance(models, list | tuple):
        if not models:
            raise SettingsError(f"models ({origin}) is an empty list. Name at least one Base.")
        if all(isinstance(m, str) for m in models):
            return tuple(_require_import_path(m, "models", origin) for m in models)
    if (
        origin.startswith("pyproject")
        or models is None
        or isinstance(models, int | float | dict | list | tuple)
    ):
        raise SettingsError(
            f"models ({origin}) must name your declarative Base or MetaData, as "
            f'"yourpackage.models:Base" or a list of such names, not {models!r}. Fix the setting.'
        )
    spec: object = models  # the object itself, from a settings module
    return spec


def _require_str(value: object, name: str, origin: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(
            f"{name} ({origin}) must be a non-empty string, not {value!r}. Fix the setting."
        )
    return value.strip()


def _require_number(values: Mapping[str, Any], name: str, origin: str) -> float:
    """The ``ddl_lock_timeout`` (seconds) or ``ddl_retries`` (a count) setting, checked."""
    from manage.core.migrations.ddl_locks import check_ddl_option, ddl_default

    if values.get(name) is None:
        return ddl_default(name)
    return check_ddl_option(name, values[name], f"{name} ({origin})", SettingsError)


def _require_bool(value: object, name: str, origin: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(
            f"{name} ({origin}) must be true or false, not {value!r}. Fix the setting."
        )
    return value


def _require_str_list(value: object, name: str, origin: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in values
    ):
        raise SettingsError(
            f"{name} ({origin}) must be a list of non-empty strings, not {value!r}. "
            "Fix the setting."
        )
    return tuple(v.strip() for v in values)


_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")


def _require_import_path(value: object, name: str, origin: str) -> str:
    text = _require_str(value, name, origin)
    if not _IMPORT_PATH.match(text):
        raise SettingsError(
            f"{name} = {text!r} ({origin}) is not an import path. "
            'Use "package.module:Name", e.g. "shop.models:Base".'
        )
    return text


def _resolve_database_url(
    project: Any, values: Mapping[str, Any], dotenv_keys: Mapping[str, str], root: Path
) -> tuple[str, str]:
    """The URL chosen by :func:`manage.light.project.choose_url` (``.env``'s values as applied),
    validated; a relative SQLite path made relative to the project root."""
    from manage.light.project import choose_url

    urls = project.urls._replace(setting=values.get("database_url"))
    raw, where = choose_url(urls, dotenv_keys, project.origin)
    if raw is None:
        return f"sqlite:///{root / DEFAULT_DATABASE_FILE}", "default"
    if where == project.origin:
        raw = _require_str(raw, "database_url", where)
    return _normalize_url(str(raw), root, where), where


def _normalize_url(raw: str, root: Path, where: str) -> str:
    """Validate ``raw`` and make a relative SQLite path relative to the project root."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if has_unencoded_at(raw):
        raise SettingsError(
            f"The database URL (from {where}) has more than one '@' before the host, so where its "
            "password ends is ambiguous. Percent-encode the password: '@' as %40 (in Python, "
            "urllib.parse.quote(password, safe=''))."
        )
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError) as exc:
        raise SettingsError(
            f"Invalid database URL {mask_url(raw)!r} (from {where}). "
            "Use the form dialect+driver://user:password@host:port/database, "
            "e.g. postgresql+psycopg://app@localhost/app or sqlite:///db.sqlite3."
        ) from exc
    try:
        url.get_dialect()  # imports the dialect, not the driver: cheap, and catches typos early
    except NoSuchModuleError as exc:
        raise SettingsError(
            f"Unknown database dialect {url.drivername!r} in {mask_url(raw)!r} (from {where}). "
            "Use sqlite://, postgresql+psycopg://, mysql+pymysql:// or mariadb+pymysql://."
        ) from exc
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.is_absolute():
                url = url.set(database=str(root / path))
    return url.render_as_string(hide_password=False)


def _read_dotenv(root: Path) -> dict[str, str]:
    """Export ``root/.env`` into os.environ without overriding real variables; return what it
    applied."""
    path = root / ".env"
    if not path.is_file():
        return {}
    from manage.light.reads import dotenv_values

    text = read_dotenv_text(path)
    if text is None:
        raise SettingsError(
            f"{path} is not UTF-8 text. Save it as UTF-8 (e.g. 'iconv -f latin1 -t utf-8'), "
            "or remove the characters that are not."
        )
    applied = {}
    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def read_dotenv_text(path: Path) -> str | None:
    """The text of the ``.env`` file at ``path``; None when it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _prepend_sys_path(root: Path) -> None:
    entry = str(root)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def import_module(name: str, *, what: str, error: type[ManageError] = DiscoveryError) -> ModuleType:
    """Import ``name``; any failure becomes one ``error`` line naming the module and the cause."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise error(
                f"Could not import {what} '{name}': there is no module named '{exc.name}'. "
                "Check the name in your settings and that the module is in the project folder."
            ) from exc
        raise error(
            f"Importing {what} '{name}' failed: {describe_exception(exc)}. Fix the import error."
        ) from exc
    except (Exception, SystemExit) as exc:  # sys.exit() in project code is an error too
        if isinstance(exc, Terminated):
            raise
        raise error(
            f"Importing {what} '{name}' failed: {describe_exception(exc)}. Fix the error."
        ) from exc


def import_string(path: str, *, what: str, error: type[ManageError] = DiscoveryError) -> object:
    """Resolve ``module:attr.attr`` (or a bare module) to the object it names."""
    module_name, _, attr_path = path.partition(":")
    obj: object = import_module(module_name, what=what, error=error)
    for part in attr_path.split(".") if attr_path else ():
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise error(
                f"Module '{module_name}' has no attribute '{attr_path}' ({what} {path!r}). "
                f"Define it there, or point the setting at the right name."
            ) from None
    return obj


def describe_exception(exc: BaseException) -> str:
    """``SomeError: message (file, line N)``: one line, pointing at the deepest frame
    (``it called sys.exit(0) (file, line N)`` for a ``SystemExit``)."""
    if isinstance(exc, SyntaxError):
        where = f" ({exc.filename}, line {exc.lineno})" if exc.filename else ""
        return f"SyntaxError: {exc.msg}{where}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        where = f" ({last.filename}, line {last.lineno})"
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r}){where}"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}{where}" if message else f"{type(exc).__name__}{where}"


def project_exit(exc: SystemExit) -> ManageError:
    """The error for a ``sys.exit()`` that project code (a migration, the models, a callable a
    setting names) called while manage ran: manage does not stop quietly with its code."""
    from manage.errors import project_exit as worded

    return worded(describe_exception(exc))


# -- the loader's pieces that manage init and the project commands reuse ----------------------


def prepend_sys_path(root: Path) -> None:
    """Put the project root first on ``sys.path``, so the project's modules import."""
    _prepend_sys_path(root)


def require_str_list(value: object, name: str, origin: str) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty strings (a lone string is a list of one).

    Raises:
        SettingsError: naming the setting ``name`` and where it comes from (``origin``).
    """
    return _require_str_list(value, name, origin)


def require_import_path(value: object, name: str, origin: str) -> str:
    """``value`` checked to be ``package.module`` or ``package.module:Name``.

    Raises:
        SettingsError: naming the setting ``name`` and where it comes from (``origin``).
    """
    return _require_import_path(value, name, origin)
