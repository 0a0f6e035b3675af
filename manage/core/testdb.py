"""Test databases for the pytest plugin: fresh, migrated, cloned from a template on PostgreSQL."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, make_url

from manage.core.database import _server_execute, _server_url, make_engine
from manage.core.drivers import on_driver
from manage.core.settings import Settings
from manage.core.urls import mask_url
from manage.errors import DatabaseError

TEMPLATE_MARK = "_tpl_"
TEMPLATE_MAX_AGE = 3600.0
"""Seconds after its last use when a template of other migration files may be dropped."""
_USED = "manage test template, last used at "


@dataclass(frozen=True, slots=True)
class TestDatabase:
    """A database made for a test session."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    url: str = field(repr=False)
    template: str | None = None
    """The PostgreSQL template it was cloned from."""
    reused: bool = False
    """True when that template existed already, so no migration ran this time."""


def migrations_hash(settings: Settings) -> str:
    """A digest of the migration files (names and bytes) and the version table's name."""
    digest = hashlib.sha256(settings.version_table.encode())
    folder = settings.migrations_dir
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else ():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _safe(name: str) -> str:
    return re.sub(r"\W", "_", name).lower()[:30] or "manage"


@contextmanager
def test_database(
    settings: Settings,
    migrate: Callable[[str], object] | None = None,
    *,
    template: bool = True,
) -> Iterator[TestDatabase]:
    """A new database next to the project's, migrated with ``migrate(url)`` when given, and
    dropped afterwards.

    On PostgreSQL with ``template`` the migrated state is kept in a template database named
    after a hash of the migration files, and each later session clones it instead of migrating.

    Raises:
        DatabaseError: the server refuses to create or drop the database.
    """
    parsed = make_url(settings.database_url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="manage-test-")
        try:
            file = parsed.set(database=os.path.join(folder, "test.sqlite3"))
            rendered = file.render_as_string(hide_password=False)
            if migrate is not None:
                migrate(rendered)
            yield TestDatabase(rendered)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend not in ("postgresql", "mysql", "mariadb"):
        raise DatabaseError(f"manage cannot create a test database on {backend}.")
    base = _safe(parsed.database or "manage")
    name = f"test_{base}_{secrets.token_hex(4)}"
    url = settings.database_url
    server = _server_url(parsed, backend)
    made = TestDatabase(_with_database(parsed, name))
    if backend == "postgresql" and template and migrate is not None:
        made = _from_template(settings, parsed, server, base, name, migrate)
    else:
        _server_execute(url, server, f"CREATE DATABASE {name}", "create a test database")
    try:
        if migrate is not None and made.template is None:
            migrate(made.url)
        yield made
    finally:
        force = " WITH (FORCE)" if backend == "postgresql" else ""
        drop = f"DROP DATABASE IF EXISTS {name}{force}"
        _server_execute(url, server, drop, "drop the test database")


def _with_database(parsed: URL, name: str) -> str:
    return parsed.set(database=name).render_as_string(hide_password=False)


def _from_template(
    settings: Settings,
    parsed: URL,
    server: URL,
    base: str,
    name: str,
    migrate: Callable[[str], object],
) -> TestDatabase:
    """Clone the template of the current migration files into ``name``, building it first when
    it does not exist (or vanished: another session may drop it in between)."""
    url = settings.database_url
    template = f"{base}{TEMPLATE_MARK}{migrations_hash(settings)[:16]}"
    create = f"CREATE DATABASE {name} TEMPLATE {template}"
    built = False
    for _attempt in range(3):
        try:
            _server_execute(url, server, create, "create a test database from its template")
            break
        except DatabaseError:
            if template in _databases(server, template):
                raise  # the template is there: the failure is something else
        _build_template(settings, parsed, server, base, template, migrate)
        built = True
    else:
        raise DatabaseError(
            f"The test template {template} on {mask_url(url)} kept vanishing before it could be "
            "cloned. Check that no other process drops it, or run with --manage-no-template."
        )
    _touch(url, server, template)
    _drop_stale_templates(url, server, base, keep=template)
    return TestDatabase(_with_database(parsed, name), template, not built)


def _build_template(
    settings: Settings,
    parsed: URL,
    server: URL,
    base: str,
    template: str,
    migrate: Callable[[str], object],
) -> None:
    """Migrate a new database and rename it to ``template`` (another session may win that race)."""
    url = settings.database_url
    building = f"{base}_building_{secrets.token_hex(4)}"
    _server_execute(url, server, f"CREATE DATABASE {building}", "create a test database")
    try:
        migrate(_with_database(parsed, building))
        _touch(url, server, building)
        rename = f"ALTER DATABASE {building} RENAME TO {template}"
        _server_execute(url, server, rename, "keep a template")
    except DatabaseError:
        if template not in _databases(server, template):  # else another session won the race
            raise
    finally:
        drop = f"DROP DATABASE IF EXISTS {building}"
        _server_execute(url, server, drop, "drop a building template")


def _touch(url: str, server: URL, database: str) -> None:
    """Record now as the time the template was last used, in the database's comment."""
    comment = f"COMMENT ON DATABASE {database} IS '{_USED}{int(time.time())}'"
    # A template that looks unused is dropped a little early, and rebuilt when needed.
    with contextlib.suppress(DatabaseError):
        _server_execute(url, server, comment, "mark the template as used")


def _drop_stale_templates(url: str, server: URL, base: str, *, keep: str) -> list[str]:
    """Drop the templates of other migration files that no session used for a while.

    A template used recently is kept: another checkout (a branch with other migrations) may be
    cloning it right now.
    """
    dropped = []
    now = time.time()
    for stale, used in _templates(server, f"{base}{TEMPLATE_MARK}"):
        if stale == keep or (used is not None and now - used < TEMPLATE_MAX_AGE):
            continue
        try:
            _server_execute(url, server, f"DROP DATABASE IF EXISTS {stale}", "drop a template")
        except DatabaseError:
            continue  # in use after all; a later session drops it
        dropped.append(stale)
    return dropped


def _templates(server: URL, prefix: str) -> list[tuple[str, float | None]]:
    """The templates whose names start with ``prefix``, and when each was last used."""
    engine = make_engine(server.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            query = text(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname LIKE :pattern ORDER BY datname"
            )
            rows = connection.execute(query, {"pattern": _like(prefix)}).all()
    finally:
        engine.dispose()
    found = []
    for name, comment in rows:
        used = None
        if isinstance(comment, str) and comment.startswith(_USED):
            try:
                used = float(comment.removeprefix(_USED))
            except ValueError:
                used = None
        found.append((str(name), used))
    return found


def _databases(server: URL, prefix: str) -> list[str]:
    """The databases on ``server`` whose names start with ``prefix``."""
    engine = make_engine(server.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            return _names(connection, prefix)
    finally:
        engine.dispose()


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _names(connection: Connection, prefix: str) -> list[str]:
    query = text("SELECT datname FROM pg_database WHERE datname LIKE :pattern ORDER BY datname")
    return [str(row[0]) for row in connection.execute(query, {"pattern": _like(prefix)})]


@on_driver
def drop_templates(settings: Settings) -> list[str]:
    """Drop every template the plugin kept for this project's database; return their names."""
    parsed = make_url(settings.database_url)
    if parsed.get_backend_name() != "postgresql":
        return []
    server = _server_url(parsed, "postgresql")
    names = _databases(server, f"{_safe(parsed.database or 'manage')}{TEMPLATE_MARK}")
    for name in names:
        drop = f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        _server_execute(settings.database_url, server, drop, "drop a template")
    return names


@dataclass(frozen=True, slots=True)
class SchemaDifference:
    """How the models differ from a migrated database."""

    operations: tuple[str, ...]
    """One line per change, as makemigrations prints them."""
    code: str
    """The operations as the upgrade() code of a migration."""


def compare_models(settings: Settings, url: str) -> SchemaDifference:
    """Compare the models with the schema of the database at ``url`` (migrated to head)."""
    from alembic.autogenerate import produce_migrations, render_python_code
    from alembic.runtime.migration import MigrationContext

    from manage.core.database import connect
    from manage.core.discovery import include_object_filter, load_metadata
    from manage.core.revisions import describe

    metadata = load_metadata(settings)
    with connect(url) as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "target_metadata": metadata,
                "include_object": include_object_filter(settings),
                **settings.version_options(),
                "render_as_batch": settings.render_as_batch,
                **settings.autogenerate_options(),
            },
        )
        script = produce_migrations(context, metadata)  # type: ignore[arg-type]  # a list works too
    upgrade = script.upgrade_ops
    if upgrade is None or upgrade.is_empty():
        return SchemaDifference((), "")
    code = render_python_code(upgrade, render_as_batch=settings.render_as_batch)
    lines = [line for line in code.splitlines() if not line.strip().startswith("# ###")]
    return SchemaDifference(
        tuple(str(op) for op in describe(upgrade)), textwrap.dedent("\n".join(lines)).strip()
    )
