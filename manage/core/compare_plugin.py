"""manage's server-default comparison as an Alembic autogenerate plugin (issue 16).

Alembic calls a callable ``compare_server_default`` only after reading ``.arg.text`` from the
reflected default, which an ``Identity`` or ``Computed`` column does not have
("AttributeError: 'Identity' object has no attribute 'arg'"). Registered as a comparator of its
own, ``core/defaults.py``'s answer is asked for plain defaults, an identity is compared by its
options where the database keeps one (PostgreSQL) and not at all where it keeps none (SQLite,
MariaDB), and a generated column by its expression.

Pass ``**OPTIONS`` to ``EnvironmentContext.configure`` / ``MigrationContext.configure``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from alembic import util as alembic_util
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops
from alembic.operations.ops import AlterColumnOp, ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    Identity,
    Index,
    MetaData,
    Table,
    literal_column,
    text,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnClause, TextClause, UnaryExpression
from sqlalchemy.sql.schema import DefaultClause

from manage.compat import compare_identity_default, is_type_bound
from manage.compat import render_server_default_for_compare as _render_server_default_for_compare
from manage.core.compare_sequences import (
    compare_schema_sequences,
    compare_sequences,
    mariadb_nextval_default,
)
from manage.core.defaults import server_default_changed

NAME = "manage.server_defaults"
OPTIONS: dict[str, Any] = {
    "compare_server_default": True,  # not a callable: Alembic's own hook stays out of the way
    "autogenerate_plugins": ["alembic.autogenerate.*", NAME],
}


def options_with(plugins: tuple[str, ...]) -> dict[str, Any]:
    """:data:`OPTIONS`, with the project's ``autogenerate_plugins`` setting (manage's own plugin
    kept after them)."""
    if not plugins:
        return OPTIONS
    return {**OPTIONS, "autogenerate_plugins": [*plugins, NAME]}


def compare_server_default(
    autogen_context: AutogenContext,
    alter_column_op: AlterColumnOp,
    _schema: str | None,
    _tname: str,
    _cname: str,
    conn_col: Column[Any],
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    metadata_default = metadata_col.server_default
    if conn_col.server_default is None and metadata_col.server_default is None:
        nextval = mariadb_nextval_default(autogen_context, _schema, _tname, _cname)
        if nextval is not None:  # as the in-memory replay reads it
            conn_col.server_default = DefaultClause(text(nextval))
            alter_column_op.existing_server_default = conn_col.server_default
    conn_default = conn_col.server_default
    if conn_default is None and metadata_default is None:
        return PriorityDispatchResult.CONTINUE
    if isinstance(metadata_default, Identity) or isinstance(conn_default, Identity):
        if isinstance(metadata_default, Identity) and isinstance(conn_default, Identity):
            impl = autogen_context.migration_context.impl
            diff, _, is_alter = compare_identity_default(impl, metadata_default, conn_default)
            if is_alter and diff:
                alter_column_op.modify_server_default = metadata_default
        return PriorityDispatchResult.STOP
    if isinstance(conn_default, Computed) or isinstance(metadata_default, Computed):
        # Decided here, never by Alembic's comparators, which read ``.arg`` on some releases
        # ("'Computed' object has no attribute 'arg'") and answer differently for the in-memory
        # replay: the same expression is no change; another one cannot be altered (Alembic's
        # own warning, the same with or without a database).
        changed = server_default_changed(None, conn_col, metadata_col, None, metadata_default, None)
        if changed is not False:
            alembic_util.warn(f"Computed default on {_tname}.{_cname} cannot be modified")
        return PriorityDispatchResult.STOP
    rendered_metadata = _render_server_default_for_compare(metadata_default, autogen_context)
    rendered_conn = (
        str(conn_default.arg.text)  # type: ignore[union-attr]
        if isinstance(conn_default, DefaultClause)
        else None
    )
    changed = server_default_changed(
        autogen_context.migration_context,
        conn_col,
        metadata_col,
        rendered_conn,
        metadata_default,
        rendered_metadata,
    )
    if changed:
        alter_column_op.modify_server_default = metadata_default
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.STOP if changed is False else PriorityDispatchResult.CONTINUE


def schema_options(
    metadata: MetaData | tuple[MetaData, ...], include_name: Callable[..., bool] | None
) -> dict[str, Any]:
    """Compare the schemas the models name too (Alembic's ``include_schemas``), and only
    those: a table in ``other`` was reported as new after every migration."""
    all_metadata = metadata if isinstance(metadata, tuple) else (metadata,)
    schemas = {t.schema for m in all_metadata for t in m.tables.values() if t.schema}
    if not schemas:
        return {}

    def include(name: str | None, type_: str, parents: Any) -> bool:
        if type_ == "schema":
            return name is None or name in schemas
        return include_name is None or include_name(name, type_, parents)

    return {"include_schemas": True, "include_name": include}


def compare_check_constraints(
    _autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    _schema: str | None,
    _tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """A named CHECK constraint the models add to an existing table is created (Alembic compares
    no CHECK constraints). Only named ones, and only added: databases name unnamed ones their
    own way, and the checks of Enum and Boolean types are the types' business."""
    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    existing = {
        str(c.name).lower()
        for c in conn_table.constraints
        if isinstance(c, CheckConstraint) and c.name is not None
    }
    for constraint in sorted(metadata_table.constraints, key=lambda c: str(c.name)):
        if (
            isinstance(constraint, CheckConstraint)
            and isinstance(constraint.name, str)
            and not is_type_bound(constraint)
            and constraint.name.lower() not in existing
        ):
            modify_ops.ops.append(ops.CreateCheckConstraintOp.from_constraint(constraint))
    return PriorityDispatchResult.CONTINUE


_KEY_PART = re.compile(r'\s*[`"]?([A-Za-z_][A-Za-z0-9_$]*)[`"]?(?:\s+(ASC|DESC))?\s*', re.I)


def simple_key_parts(expressions: Iterable[Any]) -> list[tuple[str, bool]] | None:
    """An index written as plain columns, each maybe ASC or DESC, as (column name, descending)
    pairs, in every spelling a model or a migration uses (a name, a Column, ``col.desc()``,
    ``sa.text("at DESC")``, Alembic's ``sa.literal_column("at DESC")``); None for an index on
    a real expression (``lower(email)``)."""
    parts: list[tuple[str, bool]] = []
    for item in expressions:
        descending = False
        expression = item
        while isinstance(expression, UnaryExpression) and expression.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            descending = expression.modifier is operators.desc_op
            expression = expression.element
        if isinstance(expression, ColumnClause) and not expression.is_literal:
            parts.append((expression.name, descending))
            continue
        if isinstance(expression, str):
            text = expression
        elif isinstance(expression, TextClause):
            text = expression.text
        elif isinstance(expression, ColumnClause):  # a literal column: SQL text
            text = expression.name
        else:
            return None
        for piece in text.split(","):
            match = _KEY_PART.fullmatch(piece)
            if match is None:
                return None
            parts.append((match.group(1), descending or (match.group(2) or "").upper() == "DESC"))
    return parts


def _mysql_key_parts(index: Index) -> list[tuple[str, bool]] | None:
    """``index``'s key parts as MySQL/MariaDB compare them: names in lower case, each with its
    order (ascending wherever the server keeps no order: see :func:`reflect_index_order`)."""
    parts = simple_key_parts(index.expressions)
    return None if parts is None else [(name.lower(), descending) for name, descending in parts]


def _same_key_parts(
    model: list[tuple[str, bool]] | None, database: list[tuple[str, bool]] | None, ordered: bool
) -> bool:
    """Whether two indexes have the same key parts (their order too, where kept)."""
    if model is None or database is None:
        return False
    if not ordered:
        return [name for name, _ in model] == [name for name, _ in database]
    return model == database


_MYSQL_ORDER = text(
    "SELECT INDEX_NAME, COLUMN_NAME, COLLATION FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table "
    "ORDER BY INDEX_NAME, SEQ_IN_INDEX"
)


def _keeps_descending(dialect: Any) -> bool:
    """Whether the server keeps an index column's DESC: SQLite; MariaDB from 10.8, MySQL from
    8.0 (before, both parse DESC and build an ascending index)."""
    if dialect.name == "sqlite":
        return True
    version = tuple(getattr(dialect, "server_version_info", None) or ())
    return version >= ((10, 8) if getattr(dialect, "is_mariadb", False) else (8, 0))


def _descending_columns(
    autogen_context: AutogenContext, conn_table: Table, names: list[str]
) -> dict[str, set[str]]:
    """Index name -> its descending columns, as the database keeps them."""
    connection = autogen_context.connection
    assert connection is not None
    found: dict[str, set[str]] = {}
    if autogen_context.dialect.name == "sqlite":
        quote = autogen_context.dialect.identifier_preparer.quote
        where = f"{quote(conn_table.schema)}." if conn_table.schema else ""
        for name in names:
            rows = connection.exec_driver_sql(f"PRAGMA {where}index_xinfo({quote(name)})")
            for row in rows:  # seqno, cid, name, desc, coll, key
                if row[5] and row[3] and row[2] is not None:
                    found.setdefault(name, set()).add(str(row[2]))
        return found
    rows = connection.execute(_MYSQL_ORDER, {"schema": conn_table.schema, "table": conn_table.name})
    for index_name, column, collation in rows:
        if collation == "D":
            found.setdefault(str(index_name), set()).add(str(column))
    return found


def _reflected_key_parts(
    autogen_context: AutogenContext, conn_table: Table
) -> dict[str, tuple[list[tuple[str, bool]], bool]]:
    """Each reflected plain-column index of ``conn_table`` by lower-case name: its key parts
    (lower-case names, descending) and whether it is unique. The order comes from the
    inspector where it reports one (PostgreSQL, the in-memory replay), else from the database
    (SQLite, MariaDB 10.8+/MySQL 8+), else all ascending. Read here, not from
    ``conn_table.indexes``: Alembic adds its own copies of the reflected indexes there."""
    inspector = autogen_context.inspector
    found = inspector.get_indexes(conn_table.name, schema=conn_table.schema)
    in_memory = getattr(inspector, "in_memory", False)
    names = [str(ix["name"]) for ix in found if ix.get("name")]
    descending: dict[str, set[str]] = {}
    if not in_memory and _keeps_descending(autogen_context.dialect):
        descending = _descending_columns(autogen_context, conn_table, names)
    parts: dict[str, tuple[list[tuple[str, bool]], bool]] = {}
    for ix in found:
        columns = ix.get("column_names") or []
        if not ix.get("name") or not columns or None in columns:
            continue
        name = str(ix["name"])
        sorting: dict[Any, Any] = dict(ix.get("column_sorting") or {})
        keys = [
            (str(c).lower(), "desc" in sorting.get(c, ()) or c in descending.get(name, set()))
            for c in columns
        ]
        parts[name.lower()] = (keys, bool(ix.get("unique")))
    return parts


def settle_mysql_text_indexes(
    autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    _schema: str | None,
    _tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """MySQL/MariaDB: an index the models write as SQL text (``sa.text("at DESC")``) is the
    reflected index on ``at``, not a changed one. Alembic compares the text's columns (none)
    with the reflected ones and wrote a drop and a create on every check (issue 16)."""
    if (
        autogen_context.dialect is None
        or autogen_context.dialect.name not in ("mysql", "mariadb")
        or conn_table is None
        or metadata_table is None
    ):
        return PriorityDispatchResult.CONTINUE
    models = {str(i.name): i for i in metadata_table.indexes}
    in_memory = getattr(autogen_context.inspector, "in_memory", False)
    ordered = in_memory or _keeps_descending(autogen_context.dialect)
    dropped = {str(op.index_name): op for op in modify_ops.ops if isinstance(op, ops.DropIndexOp)}
    reflected: dict[str, tuple[list[tuple[str, bool]], bool]] | None = None
    for op in list(modify_ops.ops):
        if not isinstance(op, ops.CreateIndexOp) or str(op.index_name) not in dropped:
            continue
        if reflected is None:
            reflected = _reflected_key_parts(autogen_context, conn_table)
        name = str(op.index_name)
        model, database = models.get(name), reflected.get(name.lower())
        if (
            model is not None
            and database is not None
            and bool(model.unique) == database[1]
            and _same_key_parts(_mysql_key_parts(model), database[0], ordered)
        ):
            modify_ops.ops.remove(op)
            modify_ops.ops.remove(dropped[name])
    return PriorityDispatchResult.CONTINUE


def compare_index_order(
    autogen_context: AutogenContext,
    modify_ops: ModifyTableOps,
    _schema: str | None,
    _tname: str,
    conn_table: Table | None,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    """SQLite, MySQL/MariaDB: an index whose only change is a column's order (``t.c.x.desc()``
    for ``t.c.x``) is dropped and created again. Alembic compares only the column names there
    (PostgreSQL's comparison reads the order). Where the server keeps no order (MariaDB before
    10.8, MySQL before 8.0) a shadow database cannot tell, and nothing is said."""
    dialect = autogen_context.dialect
    if (
        dialect is None
        or dialect.name not in ("sqlite", "mysql", "mariadb")
        or conn_table is None
        or metadata_table is None
    ):
        return PriorityDispatchResult.CONTINUE
    in_memory = getattr(autogen_context.inspector, "in_memory", False)
    if not in_memory and not _keeps_descending(dialect):
        return PriorityDispatchResult.CONTINUE
    touched = {
        str(op.index_name).lower()
        for op in modify_ops.ops
        if isinstance(op, ops.CreateIndexOp | ops.DropIndexOp)
    }
    reflected: dict[str, tuple[list[tuple[str, bool]], bool]] | None = None
    for model in sorted(metadata_table.indexes, key=lambda i: str(i.name)):
        name = str(model.name).lower()
        model_parts = _mysql_key_parts(model)
        if model.name is None or name in touched or model_parts is None:
            continue
        if reflected is None:
            reflected = _reflected_key_parts(autogen_context, conn_table)
        if name not in reflected:
            continue
        database_parts, unique = reflected[name]
        if model_parts == database_parts or bool(model.unique) != unique:
            continue  # the same, or Alembic's own comparison says so
        if [n for n, _ in model_parts] != [n for n, _ in database_parts]:
            continue  # other columns: Alembic's own comparison says so
        as_is = ops.CreateIndexOp(
            str(model.name),
            conn_table.name,
            [literal_column(f"{n} DESC") if desc else n for n, desc in database_parts],
            schema=conn_table.schema,
            unique=unique,
        )
        modify_ops.ops.append(
            ops.DropIndexOp(
                str(model.name),
                table_name=conn_table.name,
                schema=conn_table.schema,
                _reverse=as_is,
            )
        )
        modify_ops.ops.append(ops.CreateIndexOp.from_index(model))
    return PriorityDispatchResult.CONTINUE


_plugin = Plugin(NAME)
_plugin.add_autogenerate_comparator(compare_schema_sequences, "schema", "sequences")
_plugin.add_autogenerate_comparator(
    compare_server_default, "column", "server_default", priority=DispatchPriority.FIRST
)
_plugin.add_autogenerate_comparator(compare_check_constraints, "table", "checks")
_plugin.add_autogenerate_comparator(compare_sequences, "table", "sequences")
_plugin.add_autogenerate_comparator(
    settle_mysql_text_indexes, "table", "indexes", priority=DispatchPriority.LAST
)
_plugin.add_autogenerate_comparator(
    compare_index_order, "table", "index_sort", priority=DispatchPriority.LAST
)
