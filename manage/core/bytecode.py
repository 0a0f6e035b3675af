"""The project's modules compiled into manage's cache folder, never read stale.

Python trusts a compiled file while its source keeps the size and mtime it recorded; a file
replaced by a copy that keeps both (``cp -p``, rsync, tar, a checkout within the same second)
would then be imported as it was, and a check would answer from the old models or migration
(issue 11). So the models and migrations are compiled under the cache's ``pycache`` folder
(``sys.pycache_prefix``: the project's own ``__pycache__`` is neither read nor written), and
before each import every compiled file there whose source changed (its ctime, which no copy
keeps) after it was written, or whose source is gone, is deleted."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from manage.light.cachefs import private_dir, purge_stale_bytecode


@contextlib.contextmanager
def compiled_in(prefix: Path) -> Iterator[None]:
    """Imports in the block compile into ``prefix`` (0700), its stale files deleted first."""
    saved = sys.pycache_prefix
    with contextlib.suppress(OSError):  # unwritable: Python then writes no compiled files
        private_dir(prefix)
        purge_stale_bytecode(prefix)
    sys.pycache_prefix = str(prefix)
    try:
        yield
    finally:
        sys.pycache_prefix = saved
