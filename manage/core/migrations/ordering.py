"""The order of generated operations: tables created first and dropped last."""

from __future__ import annotations

from alembic.operations import ops


def _tables_first_and_last(container: ops.OpContainer) -> None:
    """Create tables before, and drop them after, the changes to other tables that refer to them.

    Alembic emits ``drop_table`` before the ``drop_constraint`` of a foreign key pointing at that
    table (PostgreSQL refuses the drop; SQLite's batch copy cannot find the table), and in the
    downgrade ``create_foreign_key`` before the ``create_table`` it needs. Each group keeps
    Alembic's own dependency order.
    """
    creates = [op for op in container.ops if isinstance(op, ops.CreateTableOp)]
    drops = [op for op in container.ops if isinstance(op, ops.DropTableOp)]
    others = [op for op in container.ops if not isinstance(op, ops.CreateTableOp | ops.DropTableOp)]
    container.ops = [*creates, *others, *drops]
