"""Set up [tool.manage]: find the project's Base, write the table, make the migrations folder."""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from manage.core.scan import find_bases, find_model_modules
from manage.core.settings import DEFAULT_MIGRATIONS, require_import_path
from manage.core.urls import mask_url, url_password
from manage.errors import SettingsError
from manage.light.render import SEVERAL_BASES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``manage init`` wrote."""

    pyproject: Path
    created_pyproject: bool
    models: str
    candidates: tuple[str, ...]
    """Every Base the scan found (``models`` is one of them unless given)."""
    migrations_dir: Path
    created_migrations: bool
    table: str
    """The ``[tool.manage]`` text added."""


def init(
    root: str | os.PathLike[str] | None = None,
    *,
    models: str | None = None,
    database_url: str | None = None,
    migrations: str = DEFAULT_MIGRATIONS,
    choose: Callable[[Sequence[str]], str] | None = None,
) -> InitResult:
    """Add ``[tool.manage]`` to ``root/pyproject.toml`` (creating the file if absent).

    Args:
        root: the project folder; the current folder by default.
        models: ``module:Base``; by default found by scanning the project's ``.py`` files.
        database_url: written to the table when given; else the embedded SQLite default applies.
        migrations: the migrations folder, created if missing.
        choose: asked to pick one when the scan finds several Bases; without it that is an error.

    Raises:
        SettingsError: the table exists already (here or in a parent folder), pyproject.toml is
            broken, the URL does not parse, the migrations folder cannot be made, or no single
            Base. Nothing is written then.
    """
    folder = Path(root if root is not None else os.getcwd()).resolve()
    if not folder.is_dir():
        raise SettingsError(f"Project folder '{folder}' does not exist. Pass an existing folder.")
    pyproject = folder / "pyproject.toml"
    existing = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else None
    if existing is not None:
        _refuse_configured(pyproject, existing)
    _refuse_configured_parent(folder)
    if database_url:
        _check_url(database_url)
    if database_url and url_password(database_url):
        raise SettingsError(
            "The database URL holds a password, and manage init writes no password into "
            "pyproject.toml. Put DATABASE_URL=... in a .env file next to it (kept out of git) "
            "and run manage init without --database-url."
        )
    candidates = tuple(find_bases(folder))
    if models is None:
        models = _pick(candidates, folder, choose)
    models = require_import_path(models, "models", "--models")
    imports = find_model_modules(folder, models) if ":" in models else []
    table = _table(models, database_url, migrations, imports)
    text = table if not existing else existing.rstrip("\n") + "\n\n" + table
    migrations_dir = (folder / migrations).resolve()
    created_migrations = _make_folder(migrations_dir, migrations)
    try:  # whole or not at all: a full disk must not cut the user's pyproject.toml short
        from manage.light.cachefs import atomic_write

        atomic_write(pyproject.resolve(), text)
    except OSError as exc:
        if created_migrations:
            migrations_dir.rmdir()
        fix = (
            "Free some space, then run manage init again"
            if exc.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
            else "Check the folder's permissions"
        )
        raise SettingsError(
            f"Could not write {pyproject}: {exc.strerror or exc}. It was left as it was. {fix}."
        ) from exc
    return InitResult(
        pyproject, existing is None, models, candidates, migrations_dir, created_migrations, table
    )


def _refuse_configured(pyproject: Path, text: str) -> None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{pyproject} is not valid TOML: {exc}. Fix the file first.") from exc
    tool = data.get("tool")
    if isinstance(tool, dict) and "manage" in tool:
        raise SettingsError(
            f"{pyproject} already has a [tool.manage] table; manage init does not overwrite it. "
            "Edit the table by hand (see 'manage check')."
        )


def _refuse_configured_parent(folder: Path) -> None:
    for parent in folder.parents:
        path = parent / "pyproject.toml"
        try:
            tool = tomllib.loads(path.read_text(encoding="utf-8")).get("tool")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(tool, dict) and "manage" in tool:
            raise SettingsError(
                f"{path} has a [tool.manage] table, which applies to '{folder}' too; a second "
                f"table here would shadow it. Run manage in '{parent}' (or with -C {parent}), "
                "or remove that table first if this folder is a project of its own."
            )


def _check_url(url: str) -> None:
    try:
        make_url(url)
    except ArgumentError:
        raise SettingsError(
            f"--database-url '{mask_url(url)}' is not a database URL. "
            "Use the form dialect+driver://user@host/database, e.g. sqlite:///db.sqlite3."
        ) from None


def _make_folder(path: Path, given: str) -> bool:
    """Create the migrations folder if missing; True when it was created."""
    if path.is_dir():
        return False
    if path.exists():
        raise SettingsError(
            f"--migrations {given!r} is not a folder: {path} is a file. Name a folder."
        )
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise SettingsError(
            f"Could not create the migrations folder {path}: {exc.strerror or exc}. "
            "Name a folder you can write to with --migrations."
        ) from exc
    return True


def _pick(
    candidates: tuple[str, ...], folder: Path, choose: Callable[[Sequence[str]], str] | None
) -> str:
    if not candidates:
        raise SettingsError(
            f"Found no declarative Base (a DeclarativeBase subclass or declarative_base()) in the "
            f"Python files under '{folder}'. Pass it with --models yourpackage.models:Base."
        )
    if len(candidates) == 1:
        return candidates[0]
    if choose is None:
        raise SettingsError(
            f"{SEVERAL_BASES}: {', '.join(candidates)}. "
            "Pass the one holding your models with --models."
        )
    return choose(candidates)


def _table(models: str, database_url: str | None, migrations: str, imports: list[str]) -> str:
    lines = ["[tool.manage]", f"models = {json.dumps(models)}"]
    if imports:
        lines.append(f"import = {json.dumps(imports)}  # the modules defining models on it")
    if database_url:
        lines.append(f"database_url = {json.dumps(database_url)}")
    else:
        lines.append('# database_url = "sqlite:///db.sqlite3"  # the default; DATABASE_URL wins')
    lines.append(f"migrations = {json.dumps(migrations)}")
    return "\n".join(lines) + "\n"
