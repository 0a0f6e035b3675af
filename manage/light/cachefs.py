"""Files written whole or not at all: the one atomic write, used for caches and migration files."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def atomic_write(
    path: Path,
    data: bytes | str,
    *,
    mode: int | None = None,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never a part.

    The bytes go to a temporary file in the same folder, are flushed (and fsynced when
    ``durable``), and only then renamed over ``path``. On any error (a full disk, a file-size
    limit) the temporary file is removed, ``path`` is left as it was, and the ``OSError`` is raised.

    Args:
        mode: permission bits for the new file; ``None`` keeps the existing file's bits, or the
            umask's default for a new one.
        durable: fsync the file and its folder; caches may skip that, migration files may not.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(raw)
            stream.flush()
            if durable:
                os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if durable:
        _fsync_dir(path.parent)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as a 0700 folder; tighten it if it exists. Returns ``path``."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o777 != PRIVATE_DIR:
            os.chmod(path, PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Atomically write a cache file: folder 0700, file 0600, no fsync (a lost cache is cheap)."""
    private_dir(path.parent)
    atomic_write(path, data, mode=PRIVATE_FILE, durable=False)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)
