"""Migration files put in place whole or not at all: new files first, each written atomically
(``atomic_write``), and only then the files they replace removed or moved aside."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from manage.errors import MigrationError, not_writable
from manage.light.cachefs import atomic_write
from manage.light.render import relative

NO_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
"""A full disk, a file-size limit, a full quota: the same fix."""


def publish(
    files: Mapping[Path, str],
    *,
    replaces: Sequence[Path] = (),
    keep_in: Path | None = None,
    root: Path,
) -> None:
    """Write ``files`` (path -> text), then remove ``replaces`` (or move them to ``keep_in``).

    When anything fails (a full disk, a file-size limit, no rights) every file is as it was
    before: new files are removed again, a replaced file is restored from a hard link taken
    before, and ``keep_in`` is removed if this call made it. The error names the file.

    Raises:
        MigrationError: a file could not be written; nothing changed.
    """
    backups: dict[Path, Path] = {}
    written: list[Path] = []
    kept: list[Path] = []
    made_keep_in = keep_in is not None and not keep_in.exists()
    current = next(iter(files), keep_in or root)
    made = [p for p in {path.parent for path in files} if not p.exists()]
    try:
        for folder in made:
            current = folder
            folder.mkdir(parents=True)
        if keep_in is not None:
            keep_in.mkdir(exist_ok=True)
            for path in replaces:
                current = keep_in / path.name
                _link_or_copy(path, current)
                kept.append(keep_in / path.name)
        for path, text in files.items():
            current = path
            if path.exists():
                backup = path.with_name(f".{path.name}.manage-backup")
                with contextlib.suppress(FileNotFoundError):
                    backup.unlink()
                os.link(path, backup)
                backups[path] = backup
            atomic_write(path, text)
            written.append(path)
    except OSError as exc:
        for path in written:
            if path in backups:
                os.replace(backups.pop(path), path)
            else:
                path.unlink(missing_ok=True)
        for backup in backups.values():
            backup.unlink(missing_ok=True)
        for path in kept:
            path.unlink(missing_ok=True)
        if made_keep_in and keep_in is not None:
            shutil.rmtree(keep_in, ignore_errors=True)
        for made_folder in made:
            with contextlib.suppress(OSError):
                made_folder.rmdir()
        if exc.errno not in NO_SPACE:
            raise not_writable(current, str(exc.strerror or exc)) from None
    for backup in backups.values():
        backup.unlink(missing_ok=True)
    for path in replaces:
        if path not in files:
            path.unlink(missing_ok=True)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@contextmanager
def in_scratch(root: Path, migrations_dir: Path) -> Iterator[None]:
    """Around writing a migration into a scratch folder: a failed write there (a full disk)
    says so as :func:`publish` does, not as a migrations folder that cannot be written."""
    try:
        yield
    except MigrationError as exc:
        cause = exc.__cause__
        if not isinstance(cause, OSError) or cause.errno not in NO_SPACE:
            raise
        folder = relative(migrations_dir, root)
        raise MigrationError(
            f"Could not write the new migration: {cause.strerror or cause}. Nothing was "
            f"changed in {folder}/. Free some space, then run the command again."
        ) from None
