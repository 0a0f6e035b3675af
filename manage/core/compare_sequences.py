"""manage's sequence comparison for Alembic's autogenerate (which compares no sequences): a
sequence the models give a column of an existing table, and a standalone sequence added
(PostgreSQL, MariaDB); one the models do not have is left alone. Registered by
:mod:`manage.core.compare_plugin`."""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable
from typing import Any

from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.operations.ops import ModifyTableOps
from alembic.util import PriorityDispatchResult
from sqlalchemy import (
    Sequence,
    Table,
    text,
)
from sqlalchemy.sql.schema import DefaultClause

from manage.compat import metadata_sequences
from manage.core.defaults import nextval_default, takes_from
from manage.core.runnable import SequenceOp


def compare_sequences(
    autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    _schema: str | None,
    _tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """A ``Sequence`` the models give a column the table already has, and the database does not
    have: create it and make it the column's server default (PostgreSQL, MariaDB), so rows
    inserted without SQLAlchemy are numbered too; the downgrade takes the default off and drops
    the sequence. Alembic compares no sequences (issue 16). New tables and columns get their
    sequences from ``runnable._sequences``."""
    dialect = autogen_context.dialect
    if conn_table is None or metadata_table is None or dialect is None:
        return PriorityDispatchResult.CONTINUE
    in_memory = getattr(autogen_context.inspector, "in_memory", False)
    if not dialect.supports_sequences and not (in_memory and dialect.name in ("mysql", "mariadb")):
        # In memory nothing tells MariaDB (sequences) from MySQL (none): a model's Sequence does.
        return PriorityDispatchResult.CONTINUE
    wanted = [
        (column, column.default)
        for column in metadata_table.columns
        if isinstance(column.default, Sequence) and column.name in conn_table.c
    ]
    existing: dict[str | None, set[str]] = {}
    for column, sequence in wanted:
        schema = sequence.schema
        if schema not in existing:
            names = autogen_context.inspector.get_sequence_names(schema=schema)
            existing[schema] = {str(n).lower() for n in names}
        if str(sequence.name).lower() in existing[schema]:
            continue
        modify_ops.ops.append(SequenceOp("create", sequence, metadata_table.name))
        conn_column = conn_table.c[column.name]
        conn_default = conn_column.server_default
        conn_arg = conn_default.arg if isinstance(conn_default, DefaultClause) else None
        conn_text = conn_arg if isinstance(conn_arg, str | None) else str(conn_arg)
        if not takes_from(conn_text, sequence):
            modify_ops.ops.append(
                ops.AlterColumnOp(
                    metadata_table.name,
                    column.name,
                    schema=metadata_table.schema,
                    existing_type=conn_column.type,
                    existing_nullable=conn_column.nullable,
                    existing_server_default=conn_default,
                    modify_server_default=DefaultClause(
                        text(nextval_default(sequence, dialect.name))
                    ),
                )
            )
    return PriorityDispatchResult.CONTINUE


_MARIADB_NEXTVAL = text(
    "SELECT COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS "
    "WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table "
    "AND COLUMN_DEFAULT LIKE 'nextval(%'"
)
_QUALIFIED_NEXTVAL = re.compile(r"nextval\((?:`[^`]+`\.)?`?(\w+)`?\)", re.IGNORECASE)


_NEXTVAL_DEFAULTS: weakref.WeakKeyDictionary[AutogenContext, dict[Any, dict[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def mariadb_nextval_default(
    autogen_context: AutogenContext, schema: str | None, tname: str, cname: str
) -> str | None:
    """MariaDB: the ``nextval`` default of a column, which SQLAlchemy's reflection drops (it
    reads ``DEFAULT nextval(`db`.`s`)`` as no default), as ``nextval(s)``: the shadow
    database's name must not end up in a migration. One query per table."""
    dialect = autogen_context.dialect
    connection = autogen_context.connection
    if (
        dialect is None
        or dialect.name not in ("mysql", "mariadb")
        or connection is None
        or getattr(autogen_context.inspector, "in_memory", False)
    ):
        return None
    tables = _NEXTVAL_DEFAULTS.setdefault(autogen_context, {})
    if (schema, tname) not in tables:
        rows = connection.execute(_MARIADB_NEXTVAL, {"schema": schema, "table": tname})
        tables[(schema, tname)] = {
            str(name): f"nextval({found.group(1)})"
            for name, default in rows
            if (found := _QUALIFIED_NEXTVAL.fullmatch(str(default).strip())) is not None
        }
    return tables[(schema, tname)].get(cname)


# PostgreSQL: sequences no column owns (a serial's or an identity's is the column's business).
_FREE_SEQUENCES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND n.nspname = coalesce(:schema, current_schema()) "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype IN ('a', 'i'))"
)


def _database_sequences(autogen_context: AutogenContext, schema: str | None) -> list[str]:
    """The sequences of ``schema`` a migration may have created: not a serial column's."""
    inspector = autogen_context.inspector
    if getattr(inspector, "in_memory", False) or autogen_context.dialect.name != "postgresql":
        return [str(n) for n in inspector.get_sequence_names(schema=schema)]
    rows = autogen_context.connection.execute(_FREE_SEQUENCES, {"schema": schema})  # type: ignore[union-attr]
    return sorted(str(row[0]) for row in rows)


def compare_schema_sequences(
    autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps, schemas: Iterable[str | None]
) -> PriorityDispatchResult:
    """A standalone ``Sequence`` the models add is created (first, as a default may name it);
    a sequence the models do not have is left in place (Alembic's rule too): the database's
    sequences made by hand in migrations are not the models' to drop.
    Alembic compares no sequences."""
    dialect = autogen_context.dialect
    metadata = autogen_context.metadata
    if dialect is None or metadata is None:
        return PriorityDispatchResult.CONTINUE
    in_memory = getattr(autogen_context.inspector, "in_memory", False)
    if not dialect.supports_sequences and not (in_memory and dialect.name in ("mysql", "mariadb")):
        return PriorityDispatchResult.CONTINUE
    if dialect.name not in ("postgresql", "mysql", "mariadb"):
        return PriorityDispatchResult.CONTINUE
    all_metadata = metadata if isinstance(metadata, list | tuple) else (metadata,)
    default = dialect.default_schema_name

    def key(schema: str | None, name: str) -> tuple[str | None, str]:
        return (None if schema == default else schema, name.lower())

    models = {
        key(sequence.schema, str(sequence.name)): sequence
        for one in all_metadata
        for sequence in metadata_sequences(one)
    }
    of_columns = {
        key(sequence.schema, str(sequence.name))
        for one in all_metadata
        for table in one.tables.values()
        for column in table.columns
        if isinstance(sequence := column.default, Sequence)
    }
    existing: dict[tuple[str | None, str], str] = {}
    for schema in sorted({*schemas, *(s for s, _ in models)}, key=lambda s: s or ""):
        for name in _database_sequences(autogen_context, schema):
            existing[key(schema, name)] = name
    created = [
        SequenceOp("create", sequence, "")
        for found, sequence in sorted(models.items(), key=lambda m: (m[0][0] or "", m[0][1]))
        if found not in existing and found not in of_columns
    ]
    upgrade_ops.ops[:0] = created
    # A sequence the models do not have is left alone, as Alembic leaves it: one made by hand in
    # a migration (op.execute("CREATE SEQUENCE ..."), a data step's Sequence(...).create(bind))
    # looks the same as one taken out of the models, and dropping it would break what uses it.
    return PriorityDispatchResult.CONTINUE
