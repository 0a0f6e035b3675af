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

from collections.abc import Callable
from typing import Any

from alembic import util as alembic_util
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.compare.server_defaults import _render_server_default_for_compare
from alembic.operations import ops
from alembic.operations.ops import AlterColumnOp, ModifyTableOps
from alembic.runtime.plugins import Plugin
from alembic.util import DispatchPriority, PriorityDispatchResult
from sqlalchemy import CheckConstraint, Column, Computed, Identity, MetaData, Table
from sqlalchemy.sql.schema import DefaultClause

from manage.core.defaults import server_default_changed

NAME = "manage.server_defaults"
OPTIONS: dict[str, Any] = {
    "compare_server_default": True,  # not a callable: Alembic's own hook stays out of the way
    "autogenerate_plugins": ["alembic.autogenerate.*", NAME],
}


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
    conn_default = conn_col.server_default
    if conn_default is None and metadata_default is None:
        return PriorityDispatchResult.CONTINUE
    if isinstance(metadata_default, Identity) or isinstance(conn_default, Identity):
        if isinstance(metadata_default, Identity) and isinstance(conn_default, Identity):
            impl = autogen_context.migration_context.impl
            diff, _, is_alter = impl._compare_identity_default(  # type: ignore[no-untyped-call]
                metadata_default, conn_default
            )
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
            and not getattr(constraint, "_type_bound", False)
            and constraint.name.lower() not in existing
        ):
            modify_ops.ops.append(ops.CreateCheckConstraintOp.from_constraint(constraint))
    return PriorityDispatchResult.CONTINUE


_plugin = Plugin(NAME)
_plugin.add_autogenerate_comparator(
    compare_server_default, "column", "server_default", priority=DispatchPriority.FIRST
)
_plugin.add_autogenerate_comparator(compare_check_constraints, "table", "checks")
