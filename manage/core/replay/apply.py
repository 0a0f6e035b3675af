"""Replay one migration (or a history) into a SchemaState: its operations are applied as it
issues them, and its ``op.get_bind()`` is the replay's (core/replay/inspector.py's ``StateBind``,
or on SQLite a data step's database, core/replay/data_steps.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from alembic.operations import ops
from alembic.script import Script
from sqlalchemy.engine import Connection

from manage.core.replay.data_steps import READS, data_bind, refuse_schema_after_rows
from manage.core.replay.inspector import StateBind
from manage.core.replay.recorder import _SEQUENCE_DDL, _TYPE_DDL, record
from manage.core.replay.safe_sql import own_safe_sql
from manage.core.replay.state import (
    SchemaState,
    follow_bound_ddl,
    pickled_metadata,
    unpickled_metadata,
)
from manage.errors import MigrationError, ReplayFailedInPythonError, UnreplayableError


def apply_script(state: SchemaState, script: Script) -> None:
    """Apply the upgrade of ``script`` to ``state``, each operation as it is issued; its
    ``op.get_bind()`` answers ``sa.inspect()`` from ``state`` as it is at that point.

    On PostgreSQL and MariaDB the upgrade runs first on Alembic's offline connection; a data
    step, which fails there (it needs rows), runs again from the same state on a private SQLite
    database (core/replay/data_steps.py) that refuses all but rows and anything that would make
    it answer otherwise than the server."""
    state.added_after = {}
    if state.dialect_name == "sqlite":  # a real database of the project's dialect
        bound = _run(state, script, lambda _offline, _dialect, cleanup: cleanup(data_bind(state)))
    else:
        before = _snapshot(state, script)
        try:
            bound = _run(
                state, script, lambda offline, dialect, _: StateBind(state, dialect, offline)
            )
        except ReplayFailedInPythonError as failed:
            if before is None:  # e.g. a type defined inside a migration cannot be pickled
                raise
            if _CATCHES.search(Path(script.path).read_text(encoding="utf-8")):
                raise UnreplayableError(
                    f"Migration {script.revision} cannot be replayed without a database: its "
                    "upgrade() needs rows from op.get_bind() and catches exceptions, which the "
                    "project's database may raise where the in-memory replay's SQLite does not",
                    script.revision,
                ) from failed
            _restore(state, before)
            made: list[Connection] = []

            def stand_in(_offline: Any, dialect: Any, cleanup: Any) -> Any:
                made.append(cleanup(data_bind(state, dialect)))
                return made[-1]

            def guarded(operation: ops.MigrateOperation) -> None:
                if made:
                    refuse_schema_after_rows(made[-1], operation)
                state.apply(script.revision, operation)

            bound = _run(state, script, stand_in, guarded)
    if state.rows_written:
        state.may_hold_rows, state.rows_written = True, False
        state.wrote_rows(script.revision)
    for statement in bound:  # issue 16: the sequences manage creates through op.get_bind()
        if found := _SEQUENCE_DDL.match(statement):
            in_schema = found["schema"].strip('`"') if found["schema"] else None
            sequence = (in_schema, found["name"].strip('`"').lower())
            if found["verb"].upper() == "CREATE":
                state.sequences.add(sequence)
            else:
                state.sequences.discard(sequence)
        follow_bound_ddl(state, statement)  # issue 15: the statement itself, to run again
        if not _TYPE_DDL.match(statement) and not READS.search(statement):
            state.wrote_rows(script.revision)  # issue 15: a write through op.get_bind()
    if state.renamed_enums:
        (schema, name), *_ = state.renamed_enums
        state.renamed_enums.clear()
        raise UnreplayableError(
            f"Migration {script.revision} renames enum type "
            f"{f'{schema}.' if schema else ''}{name} to {name}_old without recreating it and "
            "dropping the old one as manage does, whose effect on the schema cannot be known "
            "without a database",
            script.revision,
        )


# A step whose file catches exceptions is not run on the stand-in: the server may raise where
# SQLite does not, and the step go on otherwise.
_CATCHES = re.compile(r"^\s*except\b|\bsuppress\(", re.MULTILINE)


def _run(
    state: SchemaState,
    script: Script,
    make_bind: Callable[[Any, Any, Any], Any],
    on_operation: Callable[[ops.MigrateOperation], None] | None = None,
) -> list[str]:
    """Record ``script``'s upgrade into ``state`` with ``make_bind(offline, dialect, enter)`` as
    its ``op.get_bind()``; the statements sent through that bind. Each operation goes to
    ``on_operation`` (by default: applied to ``state``)."""
    bound: list[str] = []
    apply = on_operation or (lambda operation: state.apply(script.revision, operation))

    def applied(operation: ops.MigrateOperation) -> None:
        if isinstance(operation, ops.BulkInsertOp) or (
            isinstance(operation, ops.ExecuteSQLOp)
            and not own_safe_sql(operation.sqltext)  # issue 14: makes no row
        ):
            state.may_hold_rows = True  # rows the replay does not hold (see data_steps.py)
        apply(operation)

    with ExitStack() as cleanup:
        try:
            record(
                script,
                state.dialect_name,
                bound_sql=bound,
                on_operation=applied,
                bind_for=lambda offline, dialect: make_bind(
                    offline, dialect, cleanup.enter_context
                ),
            )
        except UnreplayableError as exc:
            if isinstance(exc.__cause__, Exception) and not isinstance(
                exc.__cause__, MigrationError
            ):
                raise ReplayFailedInPythonError(str(exc), exc.revision) from exc.__cause__
            raise
    if any(not READS.search(statement) for statement in bound):
        state.may_hold_rows = True  # written through the offline bind
    return bound


def _snapshot(state: SchemaState, script: Script) -> tuple[bytes, dict[Any, bool]] | None:
    """``state`` before ``script``, to run it again as a data step; None when it cannot be one
    (its file never names a bind: pickling every state would slow long histories) or when the
    state cannot be pickled. None only means no second try: the replay falls back as before."""
    try:
        if "bind" not in Path(script.path).read_text(encoding="utf-8"):
            return None
        return pickled_metadata(state.metadata), dict(state.renamed_enums)
    except Exception:
        return None


def _restore(state: SchemaState, snapshot: tuple[bytes, dict[Any, bool]]) -> None:
    state.metadata = unpickled_metadata(snapshot[0])
    state.renamed_enums = dict(snapshot[1])


def replay(
    scripts: Sequence[Script], dialect_name: str, convention: dict[Any, Any] | None = None
) -> SchemaState:
    """The schema ``scripts`` (oldest first) build, without a database."""
    state = SchemaState(dialect_name, convention)
    for script in scripts:
        apply_script(state, script)
    return state
