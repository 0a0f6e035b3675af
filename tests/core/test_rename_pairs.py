"""Which dropped and added columns makemigrations offers as a rename: only those of one type."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops
from sqlalchemy.dialects import sqlite

from manage.core.questions import _column_pairs


def _pairs(old: sa.types.TypeEngine[object], new: sa.types.TypeEngine[object]) -> int:
    upgrade = ops.UpgradeOps(
        [
            ops.ModifyTableOps(
                "book",
                [
                    ops.DropColumnOp.from_column_and_tablename(
                        None, "book", sa.Column("title", old)
                    ),
                    ops.AddColumnOp("book", sa.Column("name", new)),
                ],
            )
        ]
    )
    return len(_column_pairs(upgrade, sqlite.dialect(), {}))


def test_columns_of_one_type_pair() -> None:
    assert _pairs(sa.String(20), sa.String(20)) == 1


def test_columns_of_other_types_do_not_pair() -> None:
    assert _pairs(sa.String(20), sa.Integer()) == 0


def test_a_type_the_dialect_cannot_render_pairs_only_by_what_it_stores() -> None:
    """NullType has no DDL: compared by type affinity, which once was always 'type' (equal)."""
    assert _pairs(sa.types.NullType(), sa.Integer()) == 0
    assert _pairs(sa.types.NullType(), sa.types.NullType()) == 1
