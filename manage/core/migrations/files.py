"""Migration files read one at a time, so every breakage names its file (issue 12 point 11).

Alembic's ``ScriptDirectory._load_revisions`` imports the files in one generator: an error from
inside it (a null byte, ``revision = 2``, a self-loop) does not say which file it came from, and
ill-typed ids surface later as a TypeError deep inside Alembic. This module lists the files the
way Alembic does, imports each with Alembic's own loader, checks what it sets, and only then
builds Alembic's ``Script`` from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

from alembic import util as alembic_util
from alembic.script import Script
from alembic.script.revision import RevisionError

from manage.core.settings import describe_exception
from manage.errors import MigrationError, also_fix_down_revisions
from manage.light.signals import Terminated

SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")  # Alembic's, script/base.py

Relative = Callable[[str | Path], str]

_FIX = {
    "down_revision": (
        "Set it to the id of the migration before this one (a string), a list of ids for a "
        "merge, or None for the first migration."
    ),
    "branch_labels": "Use a string, a list of strings, or leave branch_labels out.",
    "depends_on": (
        "Use the id (or branch label) of a migration as a string, a list of them, or leave "
        "depends_on out."
    ),
}


def migration_paths(folders: Iterable[Path]) -> list[Path]:
    """The migration files of ``folders`` as Alembic lists them: the ``*.py`` files at the top
    of each folder (not ``__init__.py``, not editor lock files ``.#*``), sorted by name, each
    real file once."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if not SOURCE_FILE.match(path.name) or path.is_dir():
                continue
            real = path.resolve()
            if real not in seen:
                seen.add(real)
                paths.append(real)
    return paths


def load_scripts(folders: Sequence[Path], relative: Relative) -> list[Script]:
    """Import every migration file of ``folders``; ``relative`` renders a path for messages.

    Raises:
        MigrationError: naming the file, the problem and the fix, for the first file that cannot
            be read, does not compile, fails on import, or sets ``revision``, ``down_revision``,
            ``branch_labels`` or ``depends_on`` to something that is not an id.
    """
    return [load_script(path, relative) for path in migration_paths(folders)]


def load_script(path: Path, relative: Relative) -> Script:
    """One migration file as Alembic's ``Script``; see :func:`load_scripts`."""
    where = relative(path)
    module = _import(path, where)
    if problem := attribute_problem(module, where, path.stem):
        raise MigrationError(problem)
    revision = module.revision
    try:
        return Script(module, revision, path)
    except RevisionError as exc:  # characters Alembic reserves
        sentence = str(exc).strip().rstrip(".").split(" in revision")[0]
        raise MigrationError(
            also_fix_down_revisions(
                f"Migration {where} has revision = {revision!r}, which Alembic cannot use: "
                f"{sentence}. Use letters, digits and underscores, e.g. the file's name without "
                ".py"
            )
        ) from exc


def _import(path: Path, where: str) -> ModuleType:
    try:
        source = path.read_bytes()
    except PermissionError as exc:
        raise MigrationError(
            f"Cannot read migration file {where}: permission denied. "
            "Let the user running manage read it."
        ) from exc
    except OSError as exc:
        raise MigrationError(
            f"Cannot read migration file {where}: {exc.strerror or exc}. Restore the file, or "
            "remove it if it is not a migration."
        ) from exc
    if b"\0" in source:
        line = source.count(b"\n", 0, source.index(b"\0")) + 1
        raise MigrationError(
            f"Migration file {where} contains a null byte (line {line}), so it is not Python "
            "source: a binary or damaged file. Restore it from version control, or remove the "
            "null bytes."
        )
    try:
        return alembic_util.load_python_file(path.parent, path.name)
    except SyntaxError as exc:
        if exc.filename and Path(exc.filename).resolve() != path:  # in a module it imports
            raise _import_failed(where, exc) from exc
        at = f" at line {exc.lineno}" if exc.lineno else ""
        fix = "Fix the file."
        if "codec" in exc.msg or "encoding" in exc.msg:
            fix = (
                "Save it as UTF-8, or declare the encoding it is in on its first line "
                "(# -*- coding: latin-1 -*-)."
            )
        raise MigrationError(
            f"Migration file {where} has a syntax error{at}: {exc.msg}. {fix}"
        ) from exc
    except (Exception, SystemExit) as exc:  # issue 12 point 5: sys.exit() too
        if isinstance(exc, Terminated):
            raise
        raise _import_failed(where, exc) from exc


def _import_failed(where: str, exc: BaseException) -> MigrationError:
    return MigrationError(
        f"Loading migration file {where} failed: {describe_exception(exc)}. Fix the file."
    )


def attribute_problem(module: ModuleType, where: str, stem: str) -> str | None:
    """What is wrong with the ids a migration module sets; None when Alembic can use them."""
    if not hasattr(module, "revision"):
        return (
            f"Migration file {where} sets no revision. Add revision = {stem!r} (the file's name "
            "without .py) and its down_revision."
        )
    revision = module.revision
    if not isinstance(revision, str):
        return also_fix_down_revisions(
            f"Migration {where} has revision = {revision!r}, which is not a string. Use a "
            f"string, e.g. the file's name without .py, {stem!r}"
        )
    if not hasattr(module, "down_revision"):
        return (
            f"Migration {where} sets no down_revision. Add down_revision = the id of the "
            "migration before it, or None for the first migration."
        )
    for name in ("down_revision", "branch_labels", "depends_on"):
        value = getattr(module, name, None)
        if not _is_ids(value):
            return (
                f"Migration {where} has {name} = {value!r}, which is neither None, a string "
                f"nor a list of strings. {_FIX[name]}"
            )
    for name in ("down_revision", "depends_on"):
        if revision in alembic_util.to_tuple(getattr(module, name, None), default=()):
            return (
                f"Migration {where} has {name} = {getattr(module, name)!r}: its own revision, "
                f"so it would have to run before itself. {_FIX[name]}"
            )
    return None


def _is_ids(value: object) -> bool:
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)


def cycle_problem(scripts: Sequence[Script], relative: Relative) -> str | None:
    """A cycle through ``down_revision`` and ``depends_on`` (ids checked to exist), named by its
    files; None when there is none."""
    by_id = {script.revision: script for script in scripts}
    labels = {label: s.revision for s in scripts for label in s.branch_labels}

    def parents(script: Script) -> list[str]:
        downs = alembic_util.to_tuple(script.down_revision, default=())
        depends = alembic_util.to_tuple(script.dependencies, default=())
        ids = [*downs, *(i if i in by_id else labels.get(i, i) for i in depends)]
        return [i for i in ids if i in by_id]

    done: set[str] = set()
    for start in sorted(by_id):
        if start in done:
            continue
        path: list[str] = []  # the chain being followed, each a child of the one after it
        on_path: set[str] = set()
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(parents(by_id[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, pending = stack[-1]
            parent = next(pending, None)
            if parent is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            if parent in on_path:
                cycle = path[path.index(parent) :]
                return _cycle_message([by_id[i] for i in cycle], relative)
            if parent not in done:
                stack.append((parent, iter(parents(by_id[parent]))))
                path.append(parent)
                on_path.add(parent)
    return None


def _cycle_message(cycle: list[Script], relative: Relative) -> str:
    names = [relative(s.path) for s in sorted(cycle, key=lambda s: s.path)]
    files = f"{', '.join(names[:-1])} and {names[-1]}"
    chain = " -> ".join(s.revision for s in [*cycle, cycle[0]])
    return (
        f"The migrations {files} form a cycle ({chain}: each comes after the next through "
        "down_revision or depends_on), so none of them can run first. Point the down_revision "
        "(or depends_on) of one of them at a migration outside the cycle, or at None if it is "
        "the first migration."
    )
