"""What Alembic's batch copy of a SQLite table keeps and how it orders it, for the replay."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, Column, Table

from manage.compat import batch_column_order
from manage.core.replay.recorder import _NotModelled

if TYPE_CHECKING:
    from manage.core.replay.state import SchemaState


def sqlite_copies(state: SchemaState, table: Table) -> None:
    """On SQLite, Alembic's batch carries out this operation by copying the table from its
    reflection, and leaves out every reflected CHECK constraint without a name (it cannot
    tell a Boolean's or an Enum's from the others; alembic/operations/batch.py, "Unnamed CHECK
    constraint on reflected table"). Whether the database keeps one then depends on what the
    batch restates in ``table_args``, which the replay does not see: it stops here."""
    if state.dialect_name != "sqlite":
        return
    on_columns = [c for column in table.columns for c in column.constraints]
    for constraint in [*table.constraints, *on_columns]:
        if isinstance(constraint, CheckConstraint) and not isinstance(constraint.name, str):
            raise _NotModelled(
                f"table {table.name!r} holding an unnamed CHECK constraint (SQLite's batch "
                "copy of the table leaves it out)"
            )


def batch_order(columns: list[Column[Any]], added: list[tuple[str, str]]) -> list[Column[Any]]:
    """``columns`` in the order Alembic's batch copy of a SQLite table gives them when the
    migration added columns (``added``: pairs of the last column then and the column added)
    and then dropped one they were added after: its topological sort of the columns (each
    after the one before it, each added one after its pair's first) places such an added column
    elsewhere than at the end (alembic/operations/batch.py,
    ``_adjust_self_columns_for_partial_reordering``)."""
    names = [c.name for c in columns]
    if all(before in names for before, _ in added):
        return columns  # the sort keeps them as they are
    new = {after for _, after in added}
    existing = [n for n in names if n not in new]
    by_position = existing + [after for _, after in added if after in names]
    pairs = {*itertools.pairwise(existing), *added}
    ordered = batch_column_order([p for p in pairs if p[0] != p[1]], by_position)
    by_name = {c.name: c for c in columns}
    return [by_name[n] for n in ordered if n in by_name]
