"""The history replayed in memory up to any revision, for any dialect: revisions named the ways a
user names them, and the migrations the replay could not follow reported rather than hidden."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from alembic.operations import ops
from alembic.script import Script

from manage.core.migrations.bootstrap import bootstrap_files, bootstrap_key, bootstrap_state
from manage.core.migrations.environment import MigrationEnvironment
from manage.core.migrations.types import BASE
from manage.core.replay import SchemaState, UnreplayableError, apply_script, replay_cached
from manage.core.settings import Settings, cache_dir
from manage.errors import MultipleHeadsError, RevisionNotFoundError, UsageError

DIALECTS = ("sqlite", "postgresql", "mysql", "mariadb")
"""The dialects ``manage schema --dialect`` writes for (those the replay is tested on)."""

ZERO = "zero"
_NUMBERED = re.compile(r"^\d{4,}_")
MAY_MISS = "the schema shown here may lack it"


def check_dialect(name: str | None, settings: Settings) -> str:
    """``name``, or the project's dialect when None.

    Raises:
        UsageError: ``name`` is not one of :data:`DIALECTS`.
    """
    if name is None:
        return settings.dialect_name
    if name not in DIALECTS:
        raise UsageError(
            f"Unknown dialect {name!r} for --dialect. Use one of {', '.join(DIALECTS)} "
            "(or leave --dialect out for the project's own)."
        )
    return name


@dataclass
class Replayed:
    """A state at a revision, the operations each migration issued on the way (with
    ``watch``), and a sentence per migration whose effect the replay could not follow."""

    revision: str
    state: SchemaState
    gaps: tuple[str, ...] = ()
    steps: dict[str, list[ops.MigrateOperation]] = field(default_factory=dict)
    scripts: tuple[Script, ...] = ()


class _Watching(SchemaState):
    """A state that notes each operation a migration issues, and skips, noting why, those it
    cannot model, so the replay goes on with the next one instead of stopping."""

    def __init__(self, dialect_name: str, convention: dict[Any, Any] | None) -> None:
        super().__init__(dialect_name, convention)
        self.steps: dict[str, list[ops.MigrateOperation]] = {}
        self.gaps: list[str] = []
        self._at: tuple[str, int] | None = None

    def apply(self, revision: str, operation: ops.MigrateOperation) -> None:
        here = (revision, id(self.metadata))
        if self._at is not None and self._at != here and self._at[0] == revision:
            self.steps[revision] = []  # a data step run again from its snapshot (apply.py)
        self._at = here
        self.steps.setdefault(revision, []).append(operation)
        try:
            super().apply(revision, operation)
        except UnreplayableError as exc:
            self.gaps.append(_gap(exc))


def _gap(exc: UnreplayableError) -> str:
    return f"{str(exc).rstrip('.')}: {MAY_MISS}."


class SchemaHistory:
    """The project's migration history, replayed to the revisions asked for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = MigrationEnvironment(settings)

    # -- naming revisions -------------------------------------------------------------------------

    def resolve(self, target: str) -> str:
        """A revision id (or ``base``) for ``target``: ``head``, ``zero``, an id or a unique
        prefix, as ``migrate`` takes them, or a branch label (its head; ``label@head`` too), or a
        migration's name without its number (``add_book_isbn``).

        Raises:
            RevisionNotFoundError: nothing, or several migrations, match.
            MultipleHeadsError: ``head`` with several heads.
        """
        labels = {label for s in self.env.script.walk_revisions() for label in s.branch_labels}
        label = target.removesuffix("@head")
        if target not in self.env.revision_ids() and label in labels:
            heads = self.env.script.get_revisions(f"{label}@head")
            if len(heads) == 1 and heads[0] is not None:
                return str(heads[0].revision)
        try:
            return self.env.resolve(target)
        except MultipleHeadsError as exc:
            first, second = exc.heads[0], exc.heads[1]
            raise MultipleHeadsError(
                f"The history has several heads ({', '.join(exc.heads)}), so 'head' names none "
                f"of them. Name one (e.g. 'manage schema {first}'), or compare two with "
                f"'manage schema --diff {first} {second}'.",
                exc.heads,
            ) from None
        except RevisionNotFoundError:
            named = [i for i in self.env.revision_ids() if _NUMBERED.sub("", i) == target]
            if len(named) == 1:
                return named[0]
            raise

    @staticmethod
    def label(revision: str) -> str:
        """How a resolved revision is shown: its id, or ``zero`` before the first migration."""
        return ZERO if revision == BASE else revision

    def scripts_to(self, revision: str) -> list[Script]:
        """The migrations that lead to ``revision``, in the order they apply."""
        if revision == BASE:
            return []
        return list(reversed(list(self.env.script.iterate_revisions(revision, BASE))))

    def is_ancestor(self, older: str, newer: str) -> bool:
        """Whether ``older`` is ``newer`` or lies on the way to it."""
        return older == BASE or older in {s.revision for s in self.scripts_to(newer)}

    # -- replaying --------------------------------------------------------------------------------

    def _for(self, dialect: str) -> Settings:
        """The settings as the replay for ``dialect`` sees them (the bootstrap's mock engine)."""
        if dialect == self.settings.dialect_name:
            return self.settings
        return dataclasses.replace(self.settings, database_url=f"{dialect}://")

    def _convention(self) -> dict[Any, Any]:
        return self.env.naming_convention()

    def replay(self, revision: str, dialect: str) -> Replayed:
        """The schema at ``revision`` for ``dialect``: from the replay cache that
        ``makemigrations`` shares when it can be replayed whole, else replayed here, each
        migration it cannot follow noted in ``gaps``."""
        settings = self._for(dialect)
        scripts = self.scripts_to(revision)
        try:
            state, _ = replay_cached(
                scripts,
                dialect,
                cache_dir() / "replay",
                also=[*self.env.imported_by_migrations, *bootstrap_files(settings)],
                convention=self._convention(),
                start=lambda state: bootstrap_state(settings, state),
                start_key=bootstrap_key(settings),
            )
        except UnreplayableError:
            return self.watch(revision, dialect)
        return Replayed(revision, state, scripts=tuple(scripts))

    def watch(self, revision: str, dialect: str) -> Replayed:
        """:meth:`replay`, without the cache, noting the operations each migration issues."""
        settings = self._for(dialect)
        scripts = self.scripts_to(revision)
        state = _Watching(dialect, self._convention())
        try:
            bootstrap_state(settings, state)
        except UnreplayableError as exc:
            state.gaps.append(_gap(exc))
        for script in scripts:
            try:
                apply_script(state, script)
            except UnreplayableError as exc:
                state.gaps.append(_gap(exc))
        gaps = tuple(dict.fromkeys(state.gaps))
        return Replayed(revision, state, gaps, state.steps, tuple(scripts))
