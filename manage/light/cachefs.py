"""The cache folder and files written whole or not at all: the one atomic write (caches and
migration files), and every helper that writes into ``$XDG_CACHE_HOME/sqlalchemy-manage``:
private folders and files, pruning, the salt, and the stamps that say whether a file changed.
Standard library only. ``tests/test_cache_writes.py`` fails if another module writes there."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SALT_BYTES = 32


def cache_dir() -> Path:
    """Where manage caches things outside the project (``$XDG_CACHE_HOME/sqlalchemy-manage``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sqlalchemy-manage"


def file_stamp(path: Path | str) -> list[int] | None:
    """A file's size, modification time, change time and inode (None when it cannot be read).
    The change time and inode catch what size and mtime miss: an edit of the same size whose
    mtime was set back (``os.utime``, ``touch -r``, ``cp -p``), or a file replaced by another."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


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
    import tempfile  # imported when first written: a remembered answer writes nothing

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
    """Create ``path`` as a 0700 folder, and each missing parent too (as the XDG base directory
    spec asks); tighten ``path`` and, below the cache folder, the cache folder if they exist
    with wider bits. Returns ``path``."""
    missing = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR)
    root = cache_dir()
    for folder in (path, root) if root in path.parents else (path,):
        with contextlib.suppress(OSError):
            if folder.stat().st_mode & 0o777 != PRIVATE_DIR:
                os.chmod(folder, PRIVATE_DIR)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Atomically write a cache file: folder 0700, file 0600, no fsync (a lost cache is cheap)."""
    private_dir(path.parent)
    atomic_write(path, data, mode=PRIVATE_FILE, durable=False)


def write_cache(path: Path, data: bytes | str) -> bool:
    """:func:`write_private`, for a cache that cannot be written only costs speed: False when the
    write failed (a read-only or full disk) instead of raising."""
    try:
        write_private(path, data)
    except OSError:
        return False
    return True


def prune(folder: Path, pattern: str, keep: int) -> None:
    """Delete all but the ``keep`` most recently written files matching ``pattern``."""
    try:
        files = sorted(folder.glob(pattern), key=lambda f: f.stat().st_mtime_ns, reverse=True)
        for file in files[keep:]:
            file.unlink(missing_ok=True)
    except OSError:  # another process pruned first
        pass


def salt(path: Path) -> bytes:
    """The random value stored in ``path`` (made on first use), so a stored hash cannot be
    checked against guesses made elsewhere. Written whole by a rename, so never empty: a
    damaged one is replaced."""
    with contextlib.suppress(OSError):
        stored = path.read_bytes()
        if len(stored) == SALT_BYTES:
            return stored
    fresh = os.urandom(SALT_BYTES)
    try:
        write_private(path, fresh)
        return path.read_bytes()  # a racing process's salt may have won: use what is stored
    except OSError:
        return fresh


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


def purge_stale_bytecode(prefix: Path) -> None:
    """Delete each compiled file under ``prefix`` (a ``sys.pycache_prefix``) older than its
    source's last change (ctime: a copy keeps size and mtime, not ctime), or whose source is gone
    (core/bytecode.py)."""
    tag = f".{sys.implementation.cache_tag}.pyc"
    root = str(prefix)
    for folder, _dirs, names in os.walk(root):
        source_dir = folder[len(root) :] or os.sep
        for name in names:
            if not name.endswith(tag):
                continue
            compiled = os.path.join(folder, name)
            source = os.path.join(source_dir, name[: -len(tag)] + ".py")
            try:
                written = os.stat(compiled).st_mtime_ns
                changed = os.stat(source).st_ctime_ns
            except FileNotFoundError:
                changed = None
            except OSError:
                continue
            if changed is None or changed >= written:
                with contextlib.suppress(OSError):
                    os.unlink(compiled)
