"""Fast-forward a fresh database (issue 15): create the schema the migration history replays to
in one pass, then record every migration, instead of running each migration in turn.

Only an empty database is fast-forwarded, and only when every migration in the range is one the
in-memory replay (core/replay/) follows exactly: no SQL of its own (``op.execute`` other than the
enum statements manage writes), no rows (``op.bulk_insert``, reads or writes through
``op.get_bind()`` other than manage's own ``Enum``/``Sequence`` ``create``/``drop``), nothing the
replay refuses. Anything else is applied step by step, and the reason names the migration.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Enum, MetaData, Table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.schema import (
    AddConstraint,
    CreateIndex,
    CreateSchema,
    CreateTable,
    ExecutableDDLElement,
    SetColumnComment,
    SetTableComment,
    sort_tables_and_constraints,
)
from sqlalchemy.types import TypeDecorator

from manage.core import history as migration_history
from manage.core.database import database_objects, driver_message
from manage.core.migrations.bootstrap import bootstrap_files, bootstrap_key, bootstrap_state
from manage.core.migrations.loader import MigrationLoader
from manage.core.migrations.types import Step
from manage.core.redact import redact
from manage.core.replay import SchemaState, hand_written_steps, replay_cached
from manage.core.settings import cache_dir
from manage.errors import MigrationError, UnreplayableError

FAST_FORWARD = "fast-forward"
"""The history table's ``direction`` of a migration recorded by a fast-forward (it was applied:
the schema it leads to was created in one pass)."""

_ROWS = ("op.bulk_insert(", "bulk_insert(")
_RENAMES = re.compile(r"\.rename_(table)\(|\bnew_(column)_name\s*=")
_DROPS_FK = re.compile(r"""type_\s*=\s*["']foreignkey["']""")
# Batch options under which SQLite's table copy orders columns its own way (a restated CHECK in
# ``table_args`` moved an added column to the front in the corpus), or on purpose.
_REORDERS = re.compile(r"\b(table_args|partial_reordering|insert_before|insert_after|recreate)\s*=")


def database_is_fresh(connection: Connection) -> bool:
    """Whether the database holds nothing at all (tables, views, sequences, types, routines)
    but manage's history table, which projects sharing a database share."""
    ours = {
        ("TABLE", migration_history.HISTORY_TABLE),
        ("SEQUENCE", f"{migration_history.HISTORY_TABLE}_id_seq"),  # PostgreSQL's serial id
    }
    found = [(kind.upper(), name) for kind, name in database_objects(connection)]
    return not [item for item in found if item not in ours]


def fast_forward_state(loader: MigrationLoader, steps: Sequence[Step]) -> SchemaState:
    """The schema ``steps`` (applied in order to an empty database) lead to, replayed in memory
    (cached, as ``makemigrations --check`` caches it).

    Raises:
        UnreplayableError: a migration (named in the message and on ``revision``) is not one the
            replay follows exactly.
    """
    settings = loader.settings
    scripts = []
    for step in steps:
        script = loader.script.get_revision(step.revision)
        assert script is not None
        source = Path(script.path).read_text(encoding="utf-8")
        if ("execute" in source or "bind" in source) and hand_written_steps(source):
            raise UnreplayableError(
                f"Migration {step.revision} runs SQL of its own or reads rows (op.execute or "
                "op.get_bind()), which the replay cannot repeat exactly",
                step.revision,
            )
        if any(call in source for call in _ROWS):
            raise UnreplayableError(
                f"Migration {step.revision} inserts rows (op.bulk_insert), which a schema "
                "created in one pass would not hold",
                step.revision,
            )
        if settings.dialect_name == "sqlite" and (found := _REORDERS.search(source)):
            raise UnreplayableError(
                f"Migration {step.revision} rebuilds a table with "
                f"batch_alter_table({found[1]}=...), which on SQLite may order its columns "
                "otherwise than the replay",
                step.revision,
            )
        if settings.dialect_name == "postgresql" and (found := _RENAMES.search(source)):
            raise UnreplayableError(
                f"Migration {step.revision} renames a {found[1] or found[2]}, whose sequence, "
                "primary key and other names PostgreSQL gave it keep the old name, which the "
                "replay does not follow",
                step.revision,
            )
        if settings.dialect_name in ("mysql", "mariadb") and _DROPS_FK.search(source):
            raise UnreplayableError(
                f"Migration {step.revision} drops a foreign key, whose index MariaDB/MySQL "
                "made and keeps, which the replay does not follow",
                step.revision,
            )
        scripts.append(script)
    if plugins := settings.database_plugins():
        raise UnreplayableError(f"Alembic's autogenerate_plugins setting names {plugins[0]!r}", "")

    try:
        state, _ = replay_cached(
            scripts,
            settings.dialect_name,
            cache_dir() / "replay",
            also=[*loader.imported_by_migrations, *bootstrap_files(settings)],
            convention=loader.naming_convention(),
            start=lambda state: bootstrap_state(settings, state),
            start_key=bootstrap_key(settings),
        )
    except SystemExit as exc:  # sys.exit() in a migration: its own run says so, step by step
        paths = {str(Path(script.path).resolve()): script.revision for script in scripts}
        frames = traceback.extract_tb(exc.__traceback__)
        met = [paths[f] for frame in frames if (f := str(Path(frame.filename).resolve())) in paths]
        revision = met[-1] if met else ""
        raise UnreplayableError(
            f"Migration {revision or '?'} calls sys.exit({exc.code!r}) when replayed", revision
        ) from None
    if (writer := state.rows_from) is not None:  # e.g. op.execute in a helper it calls
        raise UnreplayableError(
            f"Migration {writer} sends data statements (op.execute, op.bulk_insert or "
            "op.get_bind()), which a schema created in one pass would not repeat",
            writer,
        )
    # No check of ``state.may_hold_rows``: manage's own ``Enum(...).create(op.get_bind())`` sets
    # it on PostgreSQL; the sources were read above for every way a migration writes rows.
    if settings.dialect_name == "sqlite" and any(t.schema for t in state.metadata.tables.values()):
        raise UnreplayableError("A table of the history is in an attached SQLite database", "")
    return state


def fast_forward(
    loader: MigrationLoader,
    connection: Connection,
    state: SchemaState,
    steps: Sequence[Step],
    target: str,
    *,
    history: bool,
) -> None:
    """Create ``state``'s schema on the empty database ``connection`` and record ``steps`` (the
    version table at ``target``; with ``history`` a ``fast-forward`` row per migration), all in
    one transaction (PostgreSQL, SQLite; MariaDB/MySQL commit each DDL statement themselves).

    Raises:
        MigrationError: the database refused a statement; what it did is rolled back (not on
            MariaDB/MySQL: the message says so).
    """
    settings = loader.settings
    if history:
        migration_history.ensure_table(connection)  # commits: made once, shared
    if connection.in_transaction():
        connection.commit()
    started_at, started = migration_history.utcnow(), time.monotonic()
    try:
        with connection.begin():
            loader._version_schema(connection)
            _create(connection, state)
            context = MigrationContext.configure(connection, opts=settings.version_options())
            context.stamp(loader.script, target)
            if history:
                duration_ms = round((time.monotonic() - started) * 1000)
                migration_history.record_many(
                    connection,
                    [(step.revision, step.path) for step in steps],
                    FAST_FORWARD,
                    started_at,
                    duration_ms,
                    settings.version_table,
                )
    except (DBAPIError, SQLAlchemyError) as exc:
        if isinstance(exc, DBAPIError):
            reason = redact(driver_message(exc, settings.database_url))
        else:
            reason = f"{type(exc).__name__}: {exc}"
        left = (
            "MariaDB/MySQL cannot roll back DDL: the tables created before the error stay; "
            "drop them (or the database) by hand"
            if settings.dialect_name in ("mysql", "mariadb")
            else "Nothing was applied"
        )
        raise MigrationError(
            f"Fast-forwarding the empty database to {target} failed: {reason}. {left}, then "
            "run 'manage migrate --step-by-step', which applies each migration in turn."
        ) from exc


def _create(connection: Connection, state: SchemaState) -> None:
    """The DDL of ``state``: schemas, sequences and enum types first, then each table (as
    Alembic's ``create_table`` emits it: the table, its indexes, its comments), in the order
    of their foreign keys; foreign keys in a cycle last (inline on SQLite, which has no ALTER).

    Through psycopg the statements go to the server in one round trip (a fifth of the time of
    sending 800 of them one by one, at 300 tables)."""
    dialect = connection.dialect
    metadata = state.metadata
    batch = _Batch(connection)
    if dialect.name != "sqlite":
        schemas = dict(state.schemas)
        schemas.update({str(t.schema): True for t in metadata.tables.values() if t.schema})
        for schema in schemas:
            batch.add(CreateSchema(schema, if_not_exists=True))
    used = _enum_types(metadata)
    named = {(in_schema, name.lower()) for in_schema, name, _values in used}
    for (kind, in_schema, name), statement in state.bound_ddl.items():
        # A sequence as the migration created it; an enum type no column uses any more (a
        # column turned into a string keeps the type in the database) too. The enum types the
        # columns use are created from their values, which ALTER TYPE ... ADD VALUE changes.
        if kind == "SEQUENCE" or (in_schema, name) not in named:
            batch.flush()
            connection.exec_driver_sql(statement)
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ENUM
        from sqlalchemy.dialects.postgresql.named_types import CreateEnumType

        for in_schema, name, values in used:
            batch.add(CreateEnumType(ENUM(*values, name=name, schema=in_schema)))
    with_comment = dialect.supports_comments and not dialect.inline_comments
    later: list[Any] = []
    ordered = sort_tables_and_constraints(list(metadata.tables.values()))  # type: ignore[no-untyped-call]
    for table, constraints in ordered:
        if table is None:
            later.extend(constraints)
            continue
        inline = constraints if dialect.supports_alter else None  # None: all of them
        batch.add(CreateTable(table, include_foreign_key_constraints=inline))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            batch.add(CreateIndex(index))
        if with_comment:
            _comments(batch, table)
    for constraint in later if dialect.supports_alter else ():
        batch.add(AddConstraint(constraint))
    batch.flush()


class _Batch:
    """DDL statements sent as they come, or, through a driver that takes several statements in
    one ``execute`` (psycopg, psycopg2), compiled and sent together."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        dialect = connection.dialect
        self.together = dialect.name == "postgresql" and dialect.driver in ("psycopg", "psycopg2")
        self.pending: list[str] = []

    def add(self, statement: ExecutableDDLElement) -> None:
        if not self.together:
            self.connection.execute(statement)
            return
        # Compiled as Connection.execute compiles it (``%`` doubled for the driver), and sent
        # the same way: with no parameters, which psycopg still parses for ``%%``.
        self.pending.append(str(statement.compile(dialect=self.connection.dialect)).strip())

    def flush(self) -> None:
        if self.pending:
            self.connection.exec_driver_sql(";\n".join(self.pending))
            self.pending = []


def _comments(batch: _Batch, table: Table) -> None:
    if table.comment is not None:
        batch.add(SetTableComment(table))
    for column in table.columns:
        if column.comment is not None:
            batch.add(SetColumnComment(column))


def _enum_types(metadata: MetaData) -> list[tuple[str | None, str, tuple[str, ...]]]:
    """The named native enum types the tables' columns use, each once, in table order."""
    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            type_ = column.type
            if isinstance(type_, TypeDecorator):
                type_ = type_.impl_instance
            if isinstance(type_, Enum) and type_.native_enum and type_.name:
                found.setdefault((type_.schema, type_.name), tuple(type_.enums))
    return [(schema, name, values) for (schema, name), values in found.items()]
