"""Remembered answers of ``makemigrations --check``: when nothing that decides the answer changed,
answer again without importing SQLAlchemy, Alembic or the models. Standard library only."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Answer:
    """What a check printed, and its exit code."""

    output: str
    exit_code: int


def _cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sqlalchemy-manage" / "answers"


def _project_root(start: Path) -> Path | None:
    """The folder of the first pyproject.toml up from ``start`` that mentions [tool.manage]."""
    for folder in (start, *start.parents):
        path = folder / "pyproject.toml"
        if path.is_file() and "[tool.manage]" in path.read_text(encoding="utf-8", errors="replace"):
            return folder
    return None


def _stamp(path: Path) -> list[int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def library_stamps() -> dict[str, Any]:
    """Where and when SQLAlchemy, Alembic and manage were installed: an upgrade changes answers."""
    stamps: dict[str, Any] = {"python": sys.version}
    for name in ("sqlalchemy", "alembic", "manage"):
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        stamps[name] = [origin, _stamp(Path(origin)) if origin else None]
    return stamps


def _context(root: Path) -> dict[str, Any]:
    """Everything besides the recorded files that decides the answer. Secrets only as hashes."""

    def digest(text: str | None) -> str | None:
        return hashlib.sha256(text.encode()).hexdigest() if text is not None else None

    dotenv = root / ".env"
    return {
        "format": FORMAT,
        "root": str(root),
        "pyproject": digest(
            (root / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
        ),
        "dotenv": digest(dotenv.read_text(errors="replace")) if dotenv.is_file() else None,
        "database_url": digest(os.environ.get("DATABASE_URL")),
        "libraries": library_stamps(),
    }


def _folder_stamps(folder: Path) -> dict[str, list[int] | None]:
    if not folder.is_dir():
        return {}
    return {entry.name: _stamp(entry) for entry in sorted(folder.iterdir()) if entry.is_file()}


def _cache_file(root: Path) -> Path:
    return _cache_folder() / (hashlib.sha256(str(root).encode()).hexdigest()[:32] + ".json")


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
    if record.get("context") != _context(root):
        return None
    if record.get("migrations") != _folder_stamps(Path(record.get("migrations_dir", ""))):
        return None
    for path, stamp in record.get("files", {}).items():
        if _stamp(Path(path)) != stamp:
            return None
    return Answer(record["output"], int(record["exit_code"]))


def remember(root: Path, migrations_dir: Path, answer: Answer) -> None:
    """Store ``answer`` with the stamps of the project files imported to reach it (the models
    and everything of the project they import)."""
    files = {
        str(path): _stamp(path)
        for module in list(sys.modules.values())
        if (path := _module_file(module, root, migrations_dir)) is not None
    }
    record = {
        "context": _context(root),
        "migrations_dir": str(migrations_dir),
        "migrations": _folder_stamps(migrations_dir),
        "files": files,
        "output": answer.output,
        "exit_code": answer.exit_code,
    }
    target = _cache_file(root)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record))
        temporary.replace(target)
    except OSError:
        pass  # a cache that cannot be written only costs speed


def _module_file(module: Any, root: Path, migrations_dir: Path) -> Path | None:
    name = getattr(module, "__file__", None)
    if not name:
        return None
    path = Path(name)
    if not path.is_relative_to(root) or path.is_relative_to(migrations_dir):
        return None
    if any(part.startswith(".") or part in ("site-packages", "__pycache__") for part in path.parts):
        return None
    return path
