"""Replay migration files without a database: record each migration's operations, and build the
schema they produce in memory (the way Django builds its project state from migration files)."""

from manage.core.replay.apply import apply_script, replay
from manage.core.replay.cache import load_state, load_tables, replay_cached, save_tables_apart
from manage.core.replay.enum_sql import hand_written_steps, own_enum_sql
from manage.core.replay.inspector import compare
from manage.core.replay.recorder import Recorded, record
from manage.core.replay.state import SchemaState
from manage.errors import UnreplayableError

__all__ = [
    "Recorded",
    "SchemaState",
    "UnreplayableError",
    "apply_script",
    "compare",
    "hand_written_steps",
    "load_state",
    "load_tables",
    "own_enum_sql",
    "record",
    "replay",
    "replay_cached",
    "save_tables_apart",
]
