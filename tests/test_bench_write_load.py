"""bench/write_load.py's model steps, without a database: each step's models import, and each
makes exactly the change its label names (a cheap guard; the benchmark itself is not a test)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import sqlalchemy as sa

BENCH = Path(__file__).parents[1] / "bench" / "write_load.py"


def _bench() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("bench_write_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _event(source: str, step: int) -> sa.Table:
    """The ``event`` table of ``source`` run as a module (SQLAlchemy reads its annotations
    from the module it finds by name)."""
    module = types.ModuleType(f"bench_models_{step}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, "models.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module.Base.metadata.tables["event"]  # type: ignore[no-any-return]


def test_each_step_makes_the_change_it_names() -> None:
    bench = _bench()
    tables = [_event(bench.models_source(n), n) for n in range(len(bench.CHANGES) + 1)]
    labels = [label for label, _ in bench.CHANGES]
    assert labels == [
        "add index",
        "add foreign key",
        "add NOT NULL column (with default)",
        "set NOT NULL",
        "add unique constraint",
        "widen type (varchar(50) -> varchar(200))",
        "widen type (int -> bigint)",
        "add CHECK",
    ]
    first, index, fk, column, not_null, unique, varchar, bigint, check = tables
    assert not first.indexes and [i.columns.keys() for i in index.indexes] == [["amount"]]
    assert not index.foreign_keys and len(fk.foreign_keys) == 1
    assert "status" not in fk.c and column.c.status.nullable is False
    assert column.c.status.server_default is not None
    assert column.c.code.nullable is True and not_null.c.code.nullable is False
    names = {c.name for c in unique.constraints}
    assert "uq_event_ref" in names and "uq_event_ref" not in {c.name for c in not_null.constraints}
    assert isinstance(unique.c.amount.type, sa.Integer)
    assert not isinstance(unique.c.amount.type, sa.BigInteger)
    assert unique.c.note.type.length == 50 and varchar.c.note.type.length == 200
    assert not isinstance(varchar.c.amount.type, sa.BigInteger)
    assert isinstance(bigint.c.amount.type, sa.BigInteger)
    assert "ck_event_amount" in {c.name for c in check.constraints}
    assert "ck_event_amount" not in {c.name for c in bigint.constraints}


def test_the_summary_names_the_operations() -> None:
    bench = _bench()
    text = (
        "def upgrade() -> None:\n"
        "    with op.get_context().autocommit_block():\n"
        '        op.create_index("ix", "event", ["amount"], postgresql_concurrently=True)\n'
        "def downgrade() -> None:\n"
        '    op.drop_index("ix")\n'
    )
    assert bench.summary(text) == "op.get_context, op.create_index, concurrently"
    assert bench.summary("def upgrade() -> None:\n    pass\n") == "(nothing generated)"
