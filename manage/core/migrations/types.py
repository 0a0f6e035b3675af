"""What the migration history is made of: steps, revisions, what a comparison generates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # not imported: the check's in-sync tier answers without Alembic
    from manage.core import revisions

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

BASE = "base"
Direction = Literal["apply", "unapply"]


@dataclass(frozen=True, slots=True)
class Step:
    """One migration to apply or unapply."""

    revision: str
    direction: Direction
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class Revision:
    """One migration file as the history knows it."""

    id: str
    down_revisions: tuple[str, ...]
    message: str
    path: Path
    is_head: bool


@dataclass(frozen=True, slots=True)
class Generated:
    """The outcome of comparing the models with the history."""

    revision_id: str | None
    operations: tuple[revisions.Operation, ...]
    path: Path | None
