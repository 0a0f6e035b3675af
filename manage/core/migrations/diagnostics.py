"""A failure while loading, running or writing migrations, turned into one sentence and its fix."""

from __future__ import annotations

import linecache
import re
import traceback
from pathlib import Path

from manage.core.redact import redact
from manage.errors import MigrationError, not_writable


def _write_error(exc: OSError) -> MigrationError:
    path = exc.filename or "the migrations folder"
    return not_writable(path, str(exc.strerror or exc))


def _rights_fix(exc: BaseException, dialect_name: str) -> str | None:
    """The fix for a database error that is about rights or locks, not the migration."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).lower()
    if dialect_name == "sqlite":
        if "database is locked" in text:
            return (
                "Another connection holds a write lock on the SQLite file (an open transaction, "
                "e.g. in a sqlite3 shell or the running app): end it, then run again."
            )
        if "readonly database" in text or "unable to open database" in text:
            return (
                "The SQLite file is read-only: make the file and its folder writable by the "
                "user running manage, then run again."
            )
        return None
    code = getattr(orig, "sqlstate", None) or (
        orig.args[0] if getattr(orig, "args", None) else None
    )
    if code in ("42501", 1142, 1044, 1227):  # PostgreSQL insufficient_privilege; MySQL denied
        return (
            "The database user may not change the schema: run migrate as a user that may (e.g. "
            "the schema's owner), or grant this one the rights (GRANT CREATE / ALL PRIVILEGES)."
        )
    return None


def _operation_at(exc: BaseException, path: Path | None) -> tuple[int | None, str]:
    """The line of migration file ``path`` that was running when ``exc`` was raised, and the
    source of the statement there (all of its lines), e.g. ``op.add_column("book", ...)``."""
    if path is None:
        return None, ""
    target = path.resolve()
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.lineno is None or Path(frame.filename).resolve() != target:
            continue
        end = getattr(frame, "end_lineno", None) or frame.lineno
        lines = [linecache.getline(frame.filename, n) for n in range(frame.lineno, end + 1)]
        source = re.sub(r",?\s*\n\s*\)", ")", re.sub(r"([(\[{])\s*\n\s*", r"\1", "".join(lines)))
        return frame.lineno, _short(source, 100)
    return None, ""


def _short(text: str, limit: int = 160) -> str:
    one_line = " ".join(redact(text).split())  # before cutting: a cut may split a password
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def _sentence(exc: BaseException) -> str:
    """An exception's text without the full stop, so it can be followed by the fix."""
    return " ".join(str(exc).split()).rstrip(".")
