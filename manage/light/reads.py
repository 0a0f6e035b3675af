"""What this process read: environment variables by name, and the files and folders it opened.

A remembered answer is keyed on what deciding it read, so the recorder runs for the whole
process that may remember one (the console script starts it for ``makemigrations --check``):
every ``open`` and folder listing (``sys.addaudithook``: imports, data files, ``pkgutil``) and
every read of ``os.environ`` (``os.getenv`` reads through it). Reading the whole environment
(iterating it, copying it) makes the run's answer unrememberable. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

_active = False
files: set[str] = set()
"""Paths opened (also those that did not exist)."""
folders: set[str] = set()
"""Folders listed."""
variables: set[str] = set()
"""Environment variables read by name."""
foreign_variables: set[str] = set()
"""Those read by code outside manage itself (the models, the libraries they use)."""
whole_environment = False
"""Whether something read every variable (iterated or copied ``os.environ``)."""
at_start: dict[str, str] = {}
"""The environment when recording started (before a ``.env`` file is applied)."""
snapshots: dict[str, list[str]] = {}
"""Folders listed when recording started (:func:`snapshot`), by path."""


def active() -> bool:
    """Whether :func:`start` ran in this process."""
    return _active


def dotenv_values(path: Any) -> dict[str, str | None]:
    """python-dotenv's ``dotenv_values(path)``, which copies the whole environment to expand
    ``${NAME}``: recorded as reads of the names the file refers to, not of every variable."""
    global whole_environment
    import re

    from dotenv import dotenv_values as read

    before = whole_environment
    try:
        values = read(path)
    finally:
        whole_environment = before
    if _active:
        with open(path, "rb") as file:
            text = file.read().decode("utf-8", "replace")
        variables.update(re.findall(r"\$\{([^}:]+)", text))
    return values


def start() -> None:
    """Record from now on (once per process: audit hooks cannot be removed)."""
    global _active
    if _active:
        return
    _active = True
    at_start.update(os.environ)
    sys.addaudithook(_audit)
    base = type(os.environ)

    class RecordingEnviron(base):  # type: ignore[valid-type, misc]
        def __getitem__(self, key: Any) -> Any:
            _read(str(key))
            return base.__getitem__(self, key)

        def __contains__(self, key: object) -> bool:
            _read(str(key))
            return base.__contains__(self, key)

        def __iter__(self) -> Any:
            global whole_environment
            whole_environment = True
            return base.__iter__(self)

        def copy(self) -> dict[str, str]:
            global whole_environment
            whole_environment = True
            return dict(base.items(self))

    os.environ.__class__ = RecordingEnviron


_MANAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_PASSING = {"<frozen os>", "<frozen _collections_abc>", os.__file__}


def _read(name: str) -> None:
    """Record a read of variable ``name``, and whether code outside manage read it (the first
    caller past ``os`` and ``collections.abc``, which ``os.environ.get`` goes through)."""
    variables.add(name)
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in _PASSING:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or not frame.f_code.co_filename.startswith(_MANAGE):
        foreign_variables.add(name)


def snapshot(folder: str) -> None:
    """Keep the names in ``folder`` as they are now: the process itself may add files there (a
    SQLite database and its lock file), which a cache key may then tell from other changes."""
    with contextlib.suppress(OSError):
        snapshots[os.path.abspath(folder)] = sorted(os.listdir(folder))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    global whole_environment
    try:
        if event == "open":
            if _writes(args):
                return  # what the process writes is no input (a lock file, a log)
            path = args[0]
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if isinstance(path, str):
                files.add(os.path.abspath(path))
        elif event in ("os.listdir", "os.scandir"):
            path = args[0] if args else "."
            if isinstance(path, bytes):
                path = os.fsdecode(path)
            if isinstance(path, str):
                folders.add(os.path.abspath(path or "."))
    except Exception:  # an audit hook must never raise into the project's code; a read it
        whole_environment = True  # could not record makes the answer unrememberable


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _writes(args: tuple[Any, ...]) -> bool:
    """Whether an ``open`` audit event's (path, mode, flags) opens a file only to write it or
    to create it (``os.open`` gives no mode, only flags)."""
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str):
        return "+" not in mode and any(c in mode for c in "wax")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
