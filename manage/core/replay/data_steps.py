"""Data steps in the in-memory replay of a SQLite project: ``op.get_bind()`` is a real, private
in-memory SQLite database holding the schema replayed so far, which refuses every statement that
could change the schema.

The rule, Django's ``RunPython`` made checkable: a migration's Python code that only reads and
writes rows (an ORM session, ``bind.execute(update(...))``) has no effect on the schema; one that
sends anything else through the bind (DDL, ``PRAGMA`` writes aside) is refused, and the replay
falls back to a shadow database, saying so. It is sound because the database is of the project's
own dialect (so code that branches on ``bind.dialect.name`` takes the branch the project's
database takes) and empty, as a shadow database is: rows cannot lead it elsewhere than there.
Other dialects keep Alembic's offline connection (core/replay/inspector.py's ``StateBind``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import StaticPool

from manage.core.replay.inspector import STATE_KEY, LiveStateInspector
from manage.core.replay.state import SchemaState

# What a data step may send: reads, writes of rows, transaction control, reflection's PRAGMAs.
_ROWS_ONLY = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|VALUES|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|"
    r"RELEASE|PRAGMA\s+(?:main\.)?\w+\s*(?:\(|;|$))",
    re.IGNORECASE,
)


class SchemaChangeRefused(Exception):
    """A data step sent a statement that may change the schema."""


@contextmanager
def data_bind(state: SchemaState) -> Iterator[Connection]:
    """A connection to a new in-memory SQLite database with ``state``'s tables, refusing every
    statement but reads and writes of rows; closed afterwards. ``sa.inspect()`` on it answers
    from ``state`` itself, which the operations the migration issues keep up to date (the
    database's tables are those at its first ``op.get_bind()``)."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    try:
        with engine.connect() as connection:
            copy = MetaData()
            for table in state.metadata.tables.values():
                table.to_metadata(copy)
            copy.create_all(connection)
            connection.commit()
            connection.info[STATE_KEY] = state
            # A dialect names the Inspector class sa.inspect() builds (PostgreSQL's PGInspector).
            setattr(connection.dialect, "inspector", LiveStateInspector)  # noqa: B010

            @event.listens_for(connection, "before_cursor_execute")
            def refuse(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                if not _ROWS_ONLY.match(statement):
                    first = " ".join(statement.split())[:60]
                    raise SchemaChangeRefused(
                        f"its Python code sends {first!r} through op.get_bind(), which may "
                        "change the schema"
                    )

            yield connection
    finally:
        engine.dispose()
