"""Replay one migration (or a history) into a SchemaState: its operations are applied as it
issues them, and its ``op.get_bind()`` is the replay's (core/replay/inspector.py's ``StateBind``,
or on SQLite a data step's database, core/replay/data_steps.py)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from alembic.script import Script

from manage.core.replay.data_steps import data_bind
from manage.core.replay.inspector import StateBind
from manage.core.replay.recorder import _SEQUENCE_DDL, record
from manage.core.replay.state import SchemaState
from manage.errors import UnreplayableError


def apply_script(state: SchemaState, script: Script) -> None:
    """Apply the upgrade of ``script`` to ``state``, each operation as it is issued; its
    ``op.get_bind()`` answers ``sa.inspect()`` from ``state`` as it is at that point."""
    with ExitStack() as cleanup:

        def bind_for(offline: Any, dialect: Any) -> Any:
            if state.dialect_name == "sqlite":  # a real database of the project's dialect
                return cleanup.enter_context(data_bind(state))
            return StateBind(state, dialect, offline)

        bound: list[str] = []
        record(
            script,
            state.dialect_name,
            bound_sql=bound,
            on_operation=lambda operation: state.apply(script.revision, operation),
            bind_for=bind_for,
        )
    for statement in bound:  # issue 16: the sequences manage creates through op.get_bind()
        if found := _SEQUENCE_DDL.match(statement):
            in_schema = found["schema"].strip('`"') if found["schema"] else None
            sequence = (in_schema, found["name"].strip('`"').lower())
            if found["verb"].upper() == "CREATE":
                state.sequences.add(sequence)
            else:
                state.sequences.discard(sequence)
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


def replay(
    scripts: Sequence[Script], dialect_name: str, convention: dict[Any, Any] | None = None
) -> SchemaState:
    """The schema ``scripts`` (oldest first) build, without a database."""
    state = SchemaState(dialect_name, convention)
    for script in scripts:
        apply_script(state, script)
    return state
