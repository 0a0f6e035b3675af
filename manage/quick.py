"""Plain ``manage showmigrations`` and ``manage migrate`` at head, answered by the standard library.

Users run these dozens of times a day; the full CLI pays for Typer, SQLAlchemy and Alembic and
imports every migration file. For the common case, an ordinary linear history on SQLite, the answer
needs none of that: the revision ids come from reading the migration files (parsed once, then
remembered by the sha256 of their bytes), the database's state from :mod:`sqlite3`, read only.
Whatever this module does not understand (another database, a settings module, branches, merges,
``depends_on``, squashed migrations, a migration importing more than SQLAlchemy and Alembic, a
file that does not parse, a version table that lists several revisions, anything to apply) is
left to :mod:`manage.cli`, which stays the reference: :func:`main` returns, the launcher goes on.
Nothing is printed before the whole answer is known, and the database is never written.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from manage.light import render
from manage.light.history import (
    HISTORY_QUERY,
    HISTORY_TABLE,
    current_heads,
    last_applied,
    version_query,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

FORMAT = 1

# argv (without --no-color, which may stand anywhere) -> (command, plan)
_FORMS: dict[tuple[str, ...], tuple[str, bool]] = {
    ("showmigrations",): ("showmigrations", False),
    ("showmigrations", "--plan"): ("showmigrations", True),
    ("migrate",): ("migrate", False),
}

# What a migration may import at module level for this module to know the import succeeds.
_FROM_IMPORTS: dict[str, frozenset[str]] = {
    "__future__": frozenset({"annotations"}),
    "alembic": frozenset({"op"}),
    "collections.abc": frozenset({"Sequence"}),
    "typing": frozenset({"Sequence", "Union", "Optional"}),
    "sqlalchemy.dialects": frozenset({"postgresql", "mysql", "sqlite"}),
}
_IMPORTS = frozenset({"sqlalchemy"})
# Annotations that evaluate without error, given the names they use were imported above.
_ANNOTATIONS = frozenset(
    {
        "None",
        "str",
        "str | None",
        "Optional[str]",
        "Union[str, None]",
        "str | Sequence[str] | None",
        "Union[str, Sequence[str], None]",
        "Sequence[str] | None",
    }
)
_ANNOTATION_NAMES = frozenset({"Sequence", "Union", "Optional"})
_MODULE_NAMES = frozenset({"revision", "down_revision", "branch_labels", "depends_on"})
_RESERVED_IDS = frozenset({"base", "head", "heads", "zero"})


class _FallThrough(Exception):
    """The case is not one this module answers: the full CLI will."""


@dataclass(frozen=True, slots=True)
class _Migration:
    id: str
    down: str | None
    path: Path
    checksum: str


@dataclass(frozen=True, slots=True)
class _Project:
    root: Path
    migrations_dir: Path
    version_table: str
    database: Path


@dataclass(frozen=True, slots=True)
class _State:
    current: tuple[str, ...]
    checksums: dict[str, str | None]
    """Per revision, the checksum of its latest apply in the history table (``last_applied``)."""


def main(args: Sequence[str]) -> None:
    """Print the answer and exit, when ``args`` is a form answered here and the project allows;
    otherwise return (having printed nothing) for the full CLI to run."""
    plain = [arg for arg in args if arg != "--no-color"]  # before or after the command
    color_allowed = len(plain) == len(args)
    form = _FORMS.get(tuple(plain))
    if form is None or sys.stdout is None or sys.stderr is None:
        return  # not a form answered here, or a closed stream: Click handles that its own way
    try:
        out, err, code = _answer(*form)
    except Exception:  # _FallThrough, or anything unforeseen: the full CLI decides
        return
    text = "".join(_render(line, sys.stdout, color_allowed) for line in out)
    problems = "".join(_render(line, sys.stderr, color_allowed) for line in err)
    if not (text + problems).isascii():
        return  # Click's echo handles encodings its own way: let it
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
        sys.stderr.write(problems)
        sys.stderr.flush()
    except BrokenPipeError:  # `manage showmigrations | head`: exit 1 quietly, as Typer does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
        sys.exit(1)
    sys.exit(code)


# (text, ANSI style prefix or "") per line
_Line = tuple[str, str]
_Answer = tuple[list[_Line], list[_Line], int]  # stdout lines, stderr lines, exit code
_HEADING = "\033[36m\033[1m"  # what click.style(fg="cyan", bold=True) writes
_NOTE = "\033[33m"  # fg="yellow"


def _render(line: _Line, stream: Any, color_allowed: bool) -> str:
    text, style = line
    if style and color_allowed and _isatty(stream):
        return f"{style}{text}\033[0m\n"
    return text + "\n"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def _answer(command: str, plan: bool) -> _Answer:
    project = _project()
    if command == "migrate" and not project.database.is_file():
        raise _FallThrough  # migrate creates it: no need to read the history here
    migrations = _history(project.migrations_dir)
    if command == "migrate":
        return _migrate(project, migrations)
    return _showmigrations(project, migrations, plan=plan)


def _migrate(project: _Project, migrations: list[_Migration]) -> _Answer:
    current = _state(project, history=False).current
    at_head = current == (migrations[-1].id,) if migrations else current == ()
    if not at_head:
        raise _FallThrough
    out = [
        (render.OPERATIONS, _HEADING),
        (render.migrate_target("head"), ""),
        (render.RUNNING, _HEADING),
        (f"  {render.NOTHING_TO_APPLY}", ""),
    ]
    return out, [], 0


def _showmigrations(project: _Project, migrations: list[_Migration], *, plan: bool) -> _Answer:
    state = _State((), {})
    if project.database.exists():
        if not project.database.is_file():
            raise _FallThrough
        state = _state(project, history=True)
    ids = [m.id for m in migrations]
    unknown = [rev for rev in state.current if rev not in ids]
    known = [rev for rev in state.current if rev in ids]
    applied = set(ids[: ids.index(known[0]) + 1]) if known else set()
    if not migrations and not unknown:
        return [(render.NO_MIGRATIONS, "")], [], 0
    folder = render.relative(project.migrations_dir, project.root)
    out: list[_Line] = []
    warnings: list[_Line] = []
    for m in migrations:
        recorded = state.checksums.get(m.id) if m.id in applied else None
        edited = bool(recorded and recorded != m.checksum)
        mark = True if m.id in applied else (None if unknown else False)
        head = m is migrations[-1]
        out.append((render.migration_line(m.id, mark, plan=plan, head=head, edited=edited), ""))
        if edited:
            path = m.path.relative_to(project.root)
            warnings.append((render.edited_warning(m.id, path, recorded, m.checksum), _NOTE))
    for rev in unknown:
        out.append((render.migration_line(rev, True, plan=plan, missing_in=folder), ""))
        warnings.append((render.missing_note(rev), _NOTE))
    return out, warnings, 0


# -- the settings: [tool.manage] alone, SQLite alone ----------------------------------------------


def _project() -> _Project:
    """What the settings loader would find, for the settings this module understands."""
    from manage.core.settings import (
        DEFAULT_DATABASE_FILE,
        DEFAULT_MIGRATIONS,
        DEFAULT_VERSION_TABLE,
        require_import_path,
        require_str_list,
    )
    from manage.light.project import PYPROJECT_ORIGIN, choose_url, resolve

    project = resolve()  # a SettingsError falls through: the CLI reports it
    if project is None or project.settings_module:
        raise _FallThrough
    root, values, origin = project.root, project.table, PYPROJECT_ORIGIN
    if "databases" in values:
        raise _FallThrough  # several databases: the CLI goes through each
    models = values.get("models")
    if isinstance(models, list) and models:
        for model in models:
            require_import_path(model, "models", origin)
    elif isinstance(models, str):
        require_import_path(models, "models", origin)
    else:
        raise _FallThrough
    if "shadow_database_url" in values:
        raise _FallThrough  # validated with SQLAlchemy by the loader
    if "include_object" in values:
        require_import_path(values["include_object"], "include_object", origin)
    for name in ("import", "exclude_tables", "commands"):
        require_str_list(values.get(name, ()), name, origin)
    version_table = _text(values.get("version_table", DEFAULT_VERSION_TABLE))
    if not version_table.isidentifier():
        raise _FallThrough
    migrations_dir = (root / _text(values.get("migrations", DEFAULT_MIGRATIONS))).resolve()
    if not migrations_dir.is_relative_to(root):
        raise _FallThrough
    # .env is read even when DATABASE_URL is set, as the loader does (its warnings)
    dotenv = _dotenv_values(project.urls.dotenv_file) if project.urls.dotenv_file else {}
    url, _source = choose_url(project.urls, dotenv, origin)
    database = root / DEFAULT_DATABASE_FILE if url is None else _sqlite_file(_text(url), root)
    if "?" in str(database) or "%" in str(database):
        raise _FallThrough  # the loader's URL handling reads these characters differently
    return _Project(root, migrations_dir, version_table, database)


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _FallThrough
    return value.strip()


def _dotenv_values(path: Path) -> dict[str, str | None]:
    """python-dotenv's reading of ``path``; a file it warns about falls through, so that its
    warning is printed once, by the CLI."""
    import logging

    from manage.light.reads import dotenv_values

    class Warned(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise _FallThrough

    logger = logging.getLogger("dotenv.main")
    handler, propagate = Warned(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        return dotenv_values(path)
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _sqlite_file(url: str, root: Path) -> Path:
    """The file of a ``sqlite:///PATH`` URL, relative paths from the project root."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            database = url[len(prefix) :]
            break
    else:
        raise _FallThrough
    if not database or database == ":memory:" or database.startswith("file:"):
        raise _FallThrough
    if "?" in database or "%" in database:
        raise _FallThrough
    path = Path(database)
    return path if path.is_absolute() else root / path


# -- the database ---------------------------------------------------------------------------------


def _state(project: _Project, *, history: bool) -> _State:
    """The version table's revisions, and with ``history`` the history table's checksums; read
    only."""
    import sqlite3
    from urllib.parse import quote

    with open(project.database, "rb") as file:
        header = file.read(20)
    if len(header) == 20 and 2 in header[18:20]:
        raise _FallThrough  # WAL mode: a read-only connection would leave -wal/-shm files behind
    uri = f"file:{quote(str(project.database))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=0)  # busy: fall through, don't wait
    try:
        if not _has_table(connection, project.version_table):
            return _State((), {})
        query = version_query(f'"{project.version_table}"')
        current = current_heads(row[0] for row in connection.execute(query))
        if current is None or len(current) > 1:
            raise _FallThrough
        checksums: dict[str, str | None] = {}
        if history and current:
            checksums = _last_applied(connection, project.version_table)
        return _State(current, checksums)
    finally:
        connection.close()


def _has_table(connection: Any, name: str) -> bool:
    """SQLAlchemy's SQLite ``has_table``: a table or view in main or temp."""
    return any(
        connection.execute(f'PRAGMA {schema}.table_info("{name}")').fetchall()
        for schema in ("main", "temp")
    )


@dataclass(frozen=True, slots=True)
class _HistoryRow:
    revision: str
    direction: str
    checksum: str | None


def _last_applied(connection: Any, version_table: str) -> dict[str, str | None]:
    """``manage.core.history.last_applied(read(...))``, reduced to each revision's checksum."""
    if not _has_table(connection, HISTORY_TABLE):
        return {}
    columns = {row[1] for row in connection.execute(f"PRAGMA table_info({HISTORY_TABLE})")}
    if "version_table" not in columns:
        return {}
    rows: list[_HistoryRow] = []
    from datetime import datetime

    for row in connection.execute(HISTORY_QUERY, {"version_table": version_table}):
        revision, direction, checksum, started_at = row[1], row[2], row[3], row[4]
        if not isinstance(revision, str) or not isinstance(direction, str):
            raise _FallThrough
        if not isinstance(started_at, str):
            raise _FallThrough
        datetime.fromisoformat(started_at)  # as SQLAlchemy reads it; a ValueError falls through
        if checksum is not None and not isinstance(checksum, str):
            raise _FallThrough
        rows.append(_HistoryRow(revision, direction, checksum))
    return {revision: row.checksum for revision, row in last_applied(rows).items()}


# -- the history, without importing it ------------------------------------------------------------


def _history(folder: Path) -> list[_Migration]:
    """The migrations oldest first, when they form one straight line; else fall through."""
    import hashlib
    import re

    if not folder.is_dir():
        raise _FallThrough
    source_file = re.compile(r"(?!\.\#|__init__)(.*\.py)$")  # Alembic's, script/base.py
    found: list[tuple[str, str, Path]] = []  # (name, sha256, path)
    sources: dict[str, bytes] = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.isprintable():
                raise _FallThrough  # e.g. a newline, which Alembic's pattern lets through
            if not source_file.match(entry.name):
                continue
            if entry.is_symlink():
                raise _FallThrough
            if entry.is_dir():
                continue
            if not entry.is_file():
                raise _FallThrough
            path = folder / entry.name
            source = path.read_bytes()  # read once: the digest and the parse see the same bytes
            digest = hashlib.sha256(source).hexdigest()
            sources[digest] = source
            found.append((entry.name, digest, path))
    found.sort()
    index = _Index(folder)
    read = [(index.read(digest, sources[digest], path), digest, path) for _n, digest, path in found]
    index.save({digest for _name, digest, _path in found})
    by_id: dict[str, _Migration] = {}
    children: dict[str | None, str] = {}
    for ids, digest, path in read:
        if ids is None:
            raise _FallThrough
        rev, down = ids
        if rev in by_id or down in children:
            raise _FallThrough  # a duplicate id, or a branch
        by_id[rev] = _Migration(rev, down, path, digest)
        children[down] = rev
    if by_id and None not in children:
        raise _FallThrough
    ordered: list[_Migration] = []
    rev_id = children.get(None)
    while rev_id is not None:
        ordered.append(by_id[rev_id])
        rev_id = children.get(rev_id)
    if len(ordered) != len(by_id):
        raise _FallThrough  # a down_revision that points nowhere, or a loop
    return ordered


class _Index:
    """What each migration file says, by the sha256 of its bytes: parsed once, remembered in the
    user's cache (the answer depends on the bytes and the Python version only)."""

    def __init__(self, folder: Path) -> None:
        import hashlib
        import json

        from manage.core.settings import cache_dir

        name = hashlib.sha256(str(folder).encode()).hexdigest()[:32]
        self.path = cache_dir() / "quick" / f"{name}.json"
        from manage import __version__

        self.version = [FORMAT, __version__, list(sys.version_info[:2])]
        self.added = False
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            entries = record["entries"] if record["version"] == self.version else {}
        except Exception:  # absent or damaged: parse again
            entries = {}
        self.entries: dict[str, list[str | None] | None] = entries

    def read(self, digest: str, source: bytes, path: Path) -> tuple[str, str | None] | None:
        if digest not in self.entries:
            self.entries[digest] = _read_migration(source, str(path))
            self.added = True
        entry = self.entries[digest]
        if entry is None:
            return None
        rev, down = entry
        if not isinstance(rev, str) or not (down is None or isinstance(down, str)):
            return None
        return rev, down

    def save(self, keep: set[str]) -> None:
        if not self.added:
            return
        import json

        entries = {key: value for key, value in self.entries.items() if key in keep}
        import contextlib

        from manage.light.cachefs import write_private

        with contextlib.suppress(OSError):  # a cache that cannot be written only costs speed
            write_private(self.path, json.dumps({"version": self.version, "entries": entries}))


def _read_migration(source: bytes, filename: str) -> list[str | None] | None:
    """``[revision, down_revision]`` of a migration file whose import cannot fail and whose
    module-level code is only what manage (or Alembic's template) writes; None for any other."""
    import ast
    import re

    try:
        tree = ast.parse(source, filename)
        # what the parser lets through but the compiler does not
        compile(tree, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    bound: dict[str, ast.AST] = {}
    imported: set[str] = set()
    future_annotations = False

    def bind(name: str, node: ast.AST) -> None:
        if name in bound:
            raise _FallThrough
        bound[name] = node

    def safe_annotation(node: ast.expr | None) -> bool:
        if node is None or future_annotations:
            return True
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        uses = names & _ANNOTATION_NAMES
        return ast.unparse(node) in _ANNOTATIONS and uses <= imported

    try:
        for position, node in enumerate(tree.body):
            if isinstance(node, ast.Expr) and position == 0:
                if not isinstance(node.value, ast.Constant) or not isinstance(
                    node.value.value, str
                ):
                    return None
            elif isinstance(node, ast.ImportFrom):
                allowed = _FROM_IMPORTS.get(node.module or "")
                if node.level or allowed is None:
                    return None
                for alias in node.names:
                    if alias.name not in allowed or alias.asname not in (None, alias.name):
                        return None
                    if node.module == "__future__":
                        future_annotations = True
                        continue
                    bind(alias.asname or alias.name, node)
                    imported.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name not in _IMPORTS:
                        return None
                    bind(alias.asname or alias.name, node)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if len(targets) != 1 or not isinstance(targets[0], ast.Name):
                    return None
                if targets[0].id not in _MODULE_NAMES or node.value is None:
                    return None
                if isinstance(node, ast.AnnAssign) and not safe_annotation(node.annotation):
                    return None
                bind(targets[0].id, node.value)
            elif isinstance(node, ast.FunctionDef):
                arguments = node.args
                every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                defaults = [*arguments.defaults, *arguments.kw_defaults]
                if node.decorator_list or not safe_annotation(node.returns):
                    return None
                if not all(safe_annotation(a.annotation) for a in every):
                    return None
                if not all(d is None or isinstance(d, ast.Constant) for d in defaults):
                    return None
                bind(node.name, node)
            else:
                return None
    except _FallThrough:
        return None
    if not isinstance(bound.get("upgrade"), ast.FunctionDef):
        return None
    if not isinstance(bound.get("downgrade"), ast.FunctionDef):
        return None
    for name in ("branch_labels", "depends_on"):
        value = bound.get(name)
        if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
            return None
    revision, down = bound.get("revision"), bound.get("down_revision")
    if not isinstance(revision, ast.Constant) or not isinstance(revision.value, str):
        return None
    if not re.fullmatch(r"\w+", revision.value, re.ASCII) or revision.value in _RESERVED_IDS:
        return None
    if not isinstance(down, ast.Constant):
        return None  # missing, or several parents (a merge)
    if down.value is None:
        return [revision.value, None]
    if not isinstance(down.value, str) or not down.value or down.value == revision.value:
        return None
    return [revision.value, down.value]
