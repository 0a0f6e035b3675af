"""The lock-light form of each operation makemigrations writes for PostgreSQL and MySQL/MariaDB,
so a migration can run while the application writes to the table (issue 14).

PostgreSQL: an index is created and dropped ``CONCURRENTLY``, outside the migration's transaction
(``op.get_context().autocommit_block()``); a foreign key or CHECK constraint is added ``NOT
VALID`` and validated in its own transaction (``VALIDATE CONSTRAINT`` takes a lock that lets
writes through); ``SET NOT NULL`` comes after a validated ``CHECK (col IS NOT NULL)``, which
PostgreSQL 12+ uses instead of scanning the table under its exclusive lock; a unique constraint
is built on an index made concurrently (``ADD CONSTRAINT ... UNIQUE USING INDEX``); a column
added with a volatile default (which would rewrite the table) is added without it, the default
set afterwards and the existing rows filled in their own transaction.

MySQL/MariaDB: an index is created and dropped with ``ALGORITHM=INPLACE, LOCK=NONE`` (the server
refuses, rather than locking, when it cannot), and on MariaDB a column is added with
``alter_algorithm = 'INSTANT'``.

Operations on a table the same migration creates are left as they are: nobody writes to it yet.
``core/replay/safe_sql.py`` reads back the SQL written here, for the database-free check.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from alembic.autogenerate import renderers
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import render_op
from alembic.operations import ops
from sqlalchemy import Column, Computed, Identity, TextClause
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.schema import DefaultClause, conv

from manage.compat import column_copy
from manage.core.runnable import constraint_name, leaf_operations

MYSQL_ONLINE = "ALGORITHM=INPLACE, LOCK=NONE"
"""What every index statement written for MySQL/MariaDB ends with."""
INSTANT_ON = "SET SESSION alter_algorithm = 'INSTANT'"
INSTANT_OFF = "SET SESSION alter_algorithm = DEFAULT"

# PostgreSQL functions whose value changes per row (pg_proc.provolatile = 'v'): a column added
# with one as its default rewrites the table. now(), current_timestamp and other STABLE ones
# are evaluated once and stored in the catalog (PostgreSQL 11+): such an add stays instant.
_VOLATILE = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v1|uuid_generate_v1mc|uuid_generate_v4|"
    r"clock_timestamp|timeofday|nextval|txid_current|setseed)\s*\(",
    re.IGNORECASE,
)

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]
_MY = mysql.dialect()


_CONCURRENTLY = re.compile(r"^(CREATE (?:UNIQUE )?INDEX|DROP INDEX) CONCURRENTLY\b")


def in_one_transaction(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
) -> tuple[str, Any]:
    """SQLAlchemy's ``before_cursor_execute`` (``retval=True``) for a replay run inside one
    transaction: an index statement without ``CONCURRENTLY``, which PostgreSQL refuses there."""
    return _CONCURRENTLY.sub(r"\1", statement), parameters


class AutocommitBlockOp(ops.OpContainer):
    """Operations run outside the migration's transaction (what ran before them commits):
    ``with op.get_context().autocommit_block():``."""


@renderers.dispatch_for(AutocommitBlockOp)
def _render_block(autogen: AutogenContext, op: AutocommitBlockOp) -> list[str]:
    lines = ["with op.get_context().autocommit_block():"]
    for item in op.ops:
        lines.extend(render_op(autogen, item))
    lines.append("")  # ends the block
    return lines


class SafeSQLOp(ops.ExecuteSQLOp):
    """A statement this module writes (rendered ``op.execute('...')``, read back by the replay)."""


def make_safe(container: ops.OpContainer, dialect_name: str, *, mariadb: bool = False) -> None:
    """Rewrite ``container`` (an upgrade or a downgrade) in place into the lock-light forms of
    ``dialect_name``; SQLite and other dialects are left as they are."""
    if dialect_name == "postgresql":
        rewrite: Callable[[ops.MigrateOperation], list[ops.MigrateOperation]] = _postgresql
    elif dialect_name in ("mysql", "mariadb"):

        def rewrite(item: ops.MigrateOperation) -> list[ops.MigrateOperation]:
            return _mysql(item, mariadb=mariadb or dialect_name == "mariadb")

    else:
        return
    created = {
        (op.schema, op.table_name)
        for op in leaf_operations(container.ops)
        if isinstance(op, ops.CreateTableOp)
    }

    def walk(items: Sequence[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
        result: list[ops.MigrateOperation] = []
        for item in items:
            if isinstance(item, ops.ModifyTableOps):
                item.ops = walk(item.ops)
                result.append(item)
            elif (_schema(item), _table(item)) in created:
                result.append(item)  # a new table: nobody writes to it yet
            else:
                result.extend(rewrite(item))
        return _merged_blocks(result)

    container.ops = walk(container.ops)


def _table(item: ops.MigrateOperation) -> str | None:
    if isinstance(item, ops.CreateForeignKeyOp):
        return str(item.source_table)
    name = getattr(item, "table_name", None)
    return None if name is None else str(name)


def _schema(item: ops.MigrateOperation) -> str | None:
    if isinstance(item, ops.CreateForeignKeyOp):
        schema = item.kw.get("source_schema")
        return None if schema is None else str(schema)
    schema = getattr(item, "schema", None)
    return None if schema is None else str(schema)


def _merged_blocks(items: list[ops.MigrateOperation]) -> list[ops.MigrateOperation]:
    """Consecutive autocommit blocks as one."""
    merged: list[ops.MigrateOperation] = []
    for item in items:
        if (
            isinstance(item, AutocommitBlockOp)
            and merged
            and isinstance(merged[-1], AutocommitBlockOp)
        ):
            merged[-1].ops.extend(item.ops)
        else:
            merged.append(item)
    return merged


def _quoted(name: str, schema: str | None = None, dialect: Any = _PG) -> str:
    quote = dialect.identifier_preparer.quote
    return f"{quote(schema)}.{quote(name)}" if schema else str(quote(name))


# -- PostgreSQL ---------------------------------------------------------------------------------


def _postgresql(item: ops.MigrateOperation) -> list[ops.MigrateOperation]:
    if isinstance(item, ops.CreateIndexOp | ops.DropIndexOp) and item.table_name:
        item.kw["postgresql_concurrently"] = True
        return [AutocommitBlockOp([item])]
    if isinstance(item, ops.CreateForeignKeyOp | ops.CreateCheckConstraintOp):
        if not item.constraint_name:
            return [item]
        item.kw["postgresql_not_valid"] = True
        table, schema = _table(item), _schema(item)
        assert table is not None
        return [item, _validate(table, schema, str(item.constraint_name))]
    if isinstance(item, ops.CreateUniqueConstraintOp):
        return _unique_using_index(item)
    if isinstance(item, ops.AlterColumnOp) and item.modify_nullable is False:
        return _set_not_null(item)
    if isinstance(item, ops.AddColumnOp) and _volatile_default(item.column):
        return _add_then_default(item)
    return [item]


def _validate(table: str, schema: str | None, name: str) -> AutocommitBlockOp:
    """``VALIDATE CONSTRAINT`` in its own transaction: the lock it takes (SHARE UPDATE
    EXCLUSIVE) lets writes through, unlike the ADD CONSTRAINT's, held until its commit."""
    sql = f"ALTER TABLE {_quoted(table, schema)} VALIDATE CONSTRAINT {_quoted(name)}"
    return AutocommitBlockOp([SafeSQLOp(sql)])


def _unique_using_index(item: ops.CreateUniqueConstraintOp) -> list[ops.MigrateOperation]:
    if not item.constraint_name or item.kw:  # DEFERRABLE, dialect options: Alembic's form
        return [item]
    given = item.constraint_name
    name = str(given)
    index = ops.CreateIndexOp(
        given if isinstance(given, str) else name,  # a conv() name stays as it is (op.f)
        item.table_name,
        list(item.columns),
        schema=item.schema,
        unique=True,
        postgresql_concurrently=True,
    )
    table = _quoted(item.table_name, item.schema)
    sql = f"ALTER TABLE {table} ADD CONSTRAINT {_quoted(name)} UNIQUE USING INDEX {_quoted(name)}"
    return [AutocommitBlockOp([index]), SafeSQLOp(sql)]


def _set_not_null(item: ops.AlterColumnOp) -> list[ops.MigrateOperation]:
    """A CHECK (col IS NOT NULL) added NOT VALID, validated, then SET NOT NULL (which then
    skips its scan), then the check dropped."""
    # conv(): written op.f(...), so that a naming convention with %(constraint_name)s does not
    # rename it at run time, away from the name VALIDATE and DROP use.
    name = conv(constraint_name(item.table_name, [item.column_name], "not_null"))
    check = ops.CreateCheckConstraintOp(
        name,
        item.table_name,
        f"{_quoted(item.column_name)} IS NOT NULL",
        schema=item.schema,
        postgresql_not_valid=True,
    )
    drop = ops.DropConstraintOp(name, item.table_name, type_="check", schema=item.schema)
    return [check, _validate(item.table_name, item.schema, name), item, drop]


def _default_sql(column: Column[Any]) -> str | None:
    default = column.server_default
    if not isinstance(default, DefaultClause):
        return None
    arg = default.arg
    if isinstance(arg, str):
        return arg
    if isinstance(arg, TextClause):
        return arg.text
    try:
        return str(arg.compile(dialect=_PG))
    except Exception:  # an expression the dialect cannot render: leave it plain
        return None


def _volatile_default(column: Column[Any]) -> bool:
    if isinstance(column.server_default, Computed | Identity) or column.primary_key:
        return False
    sql = _default_sql(column)
    return sql is not None and bool(_VOLATILE.search(sql))


def _add_then_default(item: ops.AddColumnOp) -> list[ops.MigrateOperation]:
    """Added without its default (instant), the default set (for new rows only), the existing
    rows filled in their own transaction, and NOT NULL through the check when the model asks."""
    model = item.column
    column = column_copy(model)
    column.server_default = None
    column.nullable = True
    add = ops.AddColumnOp(item.table_name, column, schema=item.schema)
    set_default = ops.AlterColumnOp(
        item.table_name,
        model.name,
        schema=item.schema,
        existing_type=model.type,
        existing_nullable=True,
        modify_server_default=model.server_default,
    )
    # The rows get their values as in Alembic's form (nullable or not), one UPDATE outside the
    # migration's transaction: row locks only.
    table, name = _quoted(item.table_name, item.schema), _quoted(model.name)
    fill = SafeSQLOp(f"UPDATE {table} SET {name} = DEFAULT WHERE {name} IS NULL")
    result: list[ops.MigrateOperation] = [add, set_default, AutocommitBlockOp([fill])]
    if not model.nullable:
        result += _set_not_null(
            ops.AlterColumnOp(
                item.table_name,
                model.name,
                schema=item.schema,
                existing_type=model.type,
                existing_nullable=True,
                existing_server_default=model.server_default,
                modify_nullable=False,
            )
        )
    return result


# -- MySQL / MariaDB ----------------------------------------------------------------------------


def _plain_columns(columns: Sequence[Any]) -> list[str] | None:
    names = []
    for column in columns:
        if isinstance(column, str) and re.fullmatch(r"\w+", column):
            names.append(column)
        elif isinstance(column, Column):
            names.append(str(column.name))
        else:
            return None
    return names


def _mysql(item: ops.MigrateOperation, *, mariadb: bool) -> list[ops.MigrateOperation]:
    if isinstance(item, ops.CreateIndexOp) and not item.kw and not item.schema:
        columns = _plain_columns(item.columns)
        if columns is None or not item.index_name:
            return [item]
        unique = "UNIQUE " if item.unique else ""
        listed = ", ".join(_quoted(c, dialect=_MY) for c in columns)
        table = _quoted(item.table_name, dialect=_MY)
        name = _quoted(str(item.index_name), dialect=_MY)
        return [
            SafeSQLOp(f"ALTER TABLE {table} ADD {unique}INDEX {name} ({listed}), {MYSQL_ONLINE}")
        ]
    if isinstance(item, ops.DropIndexOp) and item.table_name and not item.schema:
        # MariaDB's DROP INDEX takes no ALGORITHM clause; ALTER TABLE does on both servers.
        name = _quoted(str(item.index_name), dialect=_MY)
        table = _quoted(item.table_name, dialect=_MY)
        return [SafeSQLOp(f"ALTER TABLE {table} DROP INDEX {name}, {MYSQL_ONLINE}")]
    if isinstance(item, ops.AddColumnOp) and mariadb and _instant_column(item.column):
        return [SafeSQLOp(INSTANT_ON), item, SafeSQLOp(INSTANT_OFF)]
    return [item]


def _instant_column(column: Column[Any]) -> bool:
    """A column MariaDB 10.3+ adds instantly at the end of the table (not an auto-increment,
    generated or primary key column; its index or unique key is a later operation)."""
    return not (
        column.primary_key
        or column.autoincrement is True
        or column.computed is not None
        or column.identity is not None
    )
