"""Remembered answers of ``makemigrations --check``: when nothing that decides the answer changed,
answer again without importing SQLAlchemy, Alembic or the models. Standard library only."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, NamedTuple

from manage.light import cachefs
from manage.light.cachefs import cache_dir, file_stamp

FORMAT = 4
FINE_SLACK_NS = 100_000_000
"""Beyond a clock tick (at most 10 ms on Linux) on file systems with sub-second times."""
COARSE_SLACK_NS = 2_000_000_000


class Answer(NamedTuple):
    """What a check printed, and its exit code."""

    output: str
    exit_code: int


def _cache_folder() -> Path:
    return cache_dir() / "answers"


def _project_root(start: Path) -> Path | None:
    """The project's root as :func:`manage.light.project.resolve` finds it (TOML parsed), or
    None for no project, a settings module or a broken pyproject (the CLI reports that)."""
    from manage.errors import SettingsError
    from manage.light.project import resolve

    try:
        project = resolve(start)
    except SettingsError:
        return None
    return None if project is None or project.settings_module else project.root


@functools.cache
def library_stamps() -> dict[str, Any]:
    """Where and when SQLAlchemy, Alembic and manage were installed: an upgrade changes answers.

    Computed once per process: each cache key of a run then names the code that run used."""
    stamps: dict[str, Any] = {"python": sys.version}
    for name in ("sqlalchemy", "alembic"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        stamps[name] = [origin, file_stamp(origin) if origin else None]
    # manage itself by every file: an editable checkout changes without a new install.
    stamps["manage"] = sorted(_source_stamps(os.path.dirname(os.path.dirname(__file__))))
    return stamps


def _source_stamps(folder: str) -> list[list[Any]]:
    found: list[list[Any]] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name != "__pycache__":
                found += _source_stamps(entry.path)
        elif entry.name.endswith((".py", ".mako")):
            found.append([entry.path, file_stamp(entry.path)])
    return found


def _salt() -> bytes:
    return cachefs.salt(_cache_folder() / "salt")


def _context(root: Path, database_url: str | None) -> dict[str, Any]:
    """Everything besides the recorded files that decides the answer. Secrets only as salted
    hashes. ``database_url`` is DATABASE_URL as the process found it (before ``.env``)."""
    salt = _salt()

    def digest(text: str | None) -> str | None:
        return hashlib.sha256(salt + text.encode()).hexdigest() if text is not None else None

    dotenv = root / ".env"
    return {
        "format": FORMAT,
        "root": str(root),
        "pyproject": digest(
            (root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
        ),
        "dotenv": digest(dotenv.read_text(errors="replace")) if dotenv.is_file() else None,
        "database_url": digest(database_url),
        "libraries": library_stamps(),
    }


def _folder_stamps(folder: Path) -> dict[str, list[int] | None]:
    if not folder.is_dir():
        return {}
    return {entry.name: file_stamp(entry) for entry in sorted(folder.iterdir()) if entry.is_file()}


def _cache_file(root: Path, kind: str = "answers", *also: str) -> Path:
    name = hashlib.sha256("\0".join([str(root), *also]).encode()).hexdigest()[:32] + ".json"
    return cache_dir() / kind / name


def remembered(start: Path) -> Answer | None:
    """The remembered answer for the project at ``start``, if nothing that decides it changed."""
    if os.environ.get("MANAGE_SETTINGS_MODULE"):
        return None
    root = _project_root(start.resolve())
    if root is None:
        return None
    try:
        record = json.loads(_cache_file(root).read_text())
    except (OSError, ValueError):
        return None
    if record.get("context") != _context(root, os.environ.get("DATABASE_URL")):
        return None
    if record.get("migrations_dir") != str(_migrations_dir(root)):
        return None  # a symlinked folder pointed elsewhere, or the setting changed
    if record.get("migrations") != _folder_stamps(Path(record.get("migrations_dir", ""))):
        return None
    if not _unchanged(record):
        return None
    return Answer(record["output"], int(record["exit_code"]))


def _unchanged(record: dict[str, Any]) -> bool:
    """Whether every environment variable, file and folder ``record`` was keyed on is as it
    was."""
    salt = _salt()
    for name, value in record.get("environment", {}).items():
        if _digest(salt, os.environ.get(name)) != value:
            return False
    if any(file_stamp(Path(path)) != stamp for path, stamp in record.get("files", {}).items()):
        return False
    ignored = set(record.get("ignored", ()))
    return all(
        _listing(folder, ignored) == names for folder, names in record.get("folders", {}).items()
    )


def _migrations_dir(root: Path) -> Path | None:
    """The migrations folder the settings name, resolved (symlinks followed), as the loader."""
    from manage.errors import SettingsError
    from manage.light.project import manage_table

    try:
        table = manage_table(root / "pyproject.toml") or {}
    except SettingsError:
        return None
    name = table.get("migrations", "migrations")
    if "databases" in table:  # several databases: no remembered answer
        return None
    return (root / name.strip()).resolve() if isinstance(name, str) else None


def _digest(salt: bytes, text: str | None) -> str | None:
    return hashlib.sha256(salt + text.encode()).hexdigest() if text is not None else None


def _slack_ns(stamp: list[int]) -> int:
    """How long after a change a file's times may still be equal to the change's: a clock tick
    on file systems with sub-second times, two seconds on whole-second (or FAT) ones."""
    whole = stamp[1] % 1_000_000_000 == 0 and stamp[2] % 1_000_000_000 == 0
    return COARSE_SLACK_NS if whole else FINE_SLACK_NS


def remember(
    root: Path,
    migrations_dir: Path,
    answer: Answer,
    *,
    started_ns: int,
    database_url: str | None,
) -> None:
    """Store ``answer`` keyed on everything this process read to reach it
    (:mod:`manage.light.reads`): the environment variables it read by name, every file it
    opened and folder it listed (the models, every project module they import, data files,
    ``pyproject.toml``, ``.env``, the folders of auto-importing packages), every project module
    loaded, and the migrations folder as resolved.

    Nothing is stored when the reads were not recorded, when the whole environment was read, or
    when a file's change time (which ``cp -p`` or ``touch -r`` cannot set back) says it may
    have changed after the process started: the answer may be about the old file.
    """
    inputs = _inputs(root, migrations_dir, started_ns=started_ns, with_migrations=True)
    if inputs is None:
        return
    record = {
        "context": _context(root, database_url),
        **inputs,
        "output": answer.output,
        "exit_code": answer.exit_code,
    }
    cachefs.write_cache(_cache_file(root), json.dumps(record))


def _inputs(
    root: Path,
    migrations_dir: Path,
    *,
    started_ns: int,
    with_migrations: bool,
    ignored: frozenset[str] = frozenset(),
    foreign: bool = False,
) -> dict[str, Any] | None:
    """What this process read, as a cache key (:func:`remember`), or None when it cannot be one:
    the reads were not recorded, the whole environment was read, or a file changed (by its
    ctime) after ``started_ns`` or went away. Files by their stamps; folders by the names in
    them but ``ignored`` (paths the process itself writes, such as a SQLite database);
    environment variables read by any code, or with ``foreign`` only by code outside manage."""
    from manage.light import reads

    if not reads.active() or reads.whole_environment:
        return None
    from manage.compat import not_yet_loaded

    cache = _cache_folder().parent
    paths = {
        str(path)
        for module in list(sys.modules.values())
        if not not_yet_loaded(module)  # it never ran: it decided nothing
        and (path := _module_file(module, root, migrations_dir)) is not None
    }
    installed = _installed_prefixes()
    read = {_source_of(p, cache) for p in reads.files} | reads.folders
    read = {p for p in read if not p.endswith(".py") or not p.startswith(installed)}
    paths |= {p for p in read if _kept(p, cache) and p not in ignored}
    # the folder of each project file: a module added beside one changes what imports find
    paths |= {
        folder
        for p in list(paths)
        if (folder := os.path.dirname(p)) == str(root) or folder.startswith(str(root) + os.sep)
    }
    folders = {p for p in paths if os.path.isdir(p)}
    files = {path: file_stamp(path) for path in sorted(paths - folders)}
    listings = {folder: _listing(folder, ignored) for folder in sorted(folders)}
    migrations = _folder_stamps(migrations_dir) if with_migrations else {}
    if file_stamp(root / "pyproject.toml") is None or any(s is None for s in migrations.values()):
        return None  # a file went away during the run
    stamps = [*files.values(), *migrations.values()]
    if with_migrations:
        stamps.append(file_stamp(migrations_dir))
    for stamp in stamps:
        if stamp is not None and stamp[2] >= started_ns - _slack_ns(stamp):
            return None
    for folder, names in listings.items():
        stamp = file_stamp(folder)
        if stamp is not None and stamp[1] >= started_ns - _slack_ns(stamp):
            # Its names changed during the run: only what the process wrote there, if the
            # names at its start were kept, else perhaps what the models found.
            before = reads.snapshots.get(folder)
            if before is None or _without(folder, before, ignored) != names:
                return None
    salt = _salt()
    if foreign:  # as the models saw them, after .env (a convention is recalled after it too)
        values = {name: os.environ.get(name) for name in sorted(reads.foreign_variables)}
    else:  # as the process found them: a remembered answer is recalled before .env is read
        values = {name: reads.at_start.get(name) for name in sorted(reads.variables)}
    environment = {name: _digest(salt, value) for name, value in values.items()}
    found: dict[str, Any] = {
        "files": files,
        "folders": listings,
        "ignored": sorted(ignored),
        "environment": environment,
    }
    if with_migrations:
        found |= {"migrations_dir": str(migrations_dir), "migrations": migrations}
    return found


def _listing(folder: str, ignored: frozenset[str] | set[str]) -> list[str] | None:
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    return _without(folder, names, ignored)


def _without(folder: str, names: list[str], ignored: frozenset[str] | set[str]) -> list[str]:
    return sorted(name for name in names if os.path.join(folder, name) not in ignored)


def remember_convention(
    root: Path,
    migrations_dir: Path,
    models: str,
    convention: dict[str, str],
    *,
    started_ns: int,
    ignored: frozenset[str],
) -> None:
    """Keep the models' naming convention (only plain text keys and values) keyed, as a
    remembered answer, on everything the process read (recorded since it started, so the
    models' import whole) and on ``models`` (the settings that name what is imported): a
    fast-forward or ``manage schema`` then needs no import. ``ignored``: the paths this process
    writes (the SQLite database, its journal and lock file), left out of folders' names."""
    inputs = _inputs(
        root,
        migrations_dir,
        started_ns=started_ns,
        with_migrations=False,
        ignored=ignored,
        foreign=True,  # not DATABASE_URL as manage reads it: the models' import reads no URL
    )
    if inputs is None:
        return
    record = {
        "context": _context(root, None),
        "models": models,
        **inputs,
        "convention": sorted(convention.items()),
    }
    cachefs.write_cache(_cache_file(root, "conventions", *sorted(ignored)), json.dumps(record))


def remembered_convention(
    root: Path, models: str, *, ignored: frozenset[str]
) -> dict[str, str] | None:
    """The naming convention :func:`remember_convention` kept, if nothing it read changed. One
    is kept per ``ignored`` (per SQLite database, and one for the servers): a project migrated
    on SQLite and on PostgreSQL by turns keeps both."""
    if os.environ.get("MANAGE_SETTINGS_MODULE"):
        return None
    try:
        record = json.loads(_cache_file(root, "conventions", *sorted(ignored)).read_text())
    except (OSError, ValueError):
        return None
    if record.get("models") != models or record.get("context") != _context(root, None):
        return None
    if not _unchanged(record):
        return None
    return {str(key): str(value) for key, value in record["convention"]}


@functools.cache
def _installed_prefixes() -> tuple[str, ...]:
    """The standard library's and site-packages' folders: their modules change with Python (in
    :func:`library_stamps`) or with an install, which changes the site-packages folder's names
    (a new ``*.dist-info``), which the key holds; stamping each of their sources would cost a
    remembered answer a seventh of its time."""
    import sysconfig

    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return tuple(sorted({os.path.join(paths[n], "") for n in names if n in paths}))


def _source_of(path: str, cache: Path) -> str:
    """The source of a compiled file (in a ``__pycache__`` folder, or in the cache's own
    ``pycache`` that the models' import compiles into, core/bytecode.py): an import that finds
    it fresh opens only it, and a package outside the project edited in place must still change
    the key. Else ``path``."""
    if not path.endswith(".pyc"):
        return path
    prefix = str(cache / "pycache")
    if path.startswith(prefix + os.sep):  # <prefix>/<the source's folder>/<module>.<tag>.pyc
        folder, name = os.path.split(path[len(prefix) :])
        return os.path.join(folder, name.split(".")[0] + ".py")
    if os.sep + "__pycache__" + os.sep not in path:
        return path
    try:
        return importlib.util.source_from_cache(path)
    except ValueError:
        return path


def _kept(path: str, cache: Path) -> bool:
    """Whether a file read decides answers: not manage's own caches (keyed by their content),
    compiled files (Python checks them against their source, which is kept), or devices."""
    if path.startswith((str(cache) + os.sep, "/dev/", "/proc/", "/sys/")):
        return False
    return "__pycache__" not in path and not path.endswith((".pyc", ".tmp"))


def _module_file(module: Any, root: Path, migrations_dir: Path) -> Path | None:
    name = getattr(module, "__file__", None)
    if not name or not isinstance(name, str) or not name.startswith(str(root)):
        return None  # most modules: the standard library and site-packages, told by their prefix
    path = Path(name)
    if not path.is_relative_to(root) or path.is_relative_to(migrations_dir):
        return None
    inside = path.relative_to(root).parts  # folders above the project may well start with "."
    if any(part.startswith(".") or part in ("site-packages", "__pycache__") for part in inside):
        return None
    return path
