"""manage's cache folder (``$XDG_CACHE_HOME/sqlalchemy-manage``) is written only through
``manage.light.cachefs``: files written whole (a temporary file renamed), 0600 in 0700 folders,
pruned, and a salt that is never empty. This scans ``manage/`` for file writes elsewhere, and
runs real checks to look at what they leave in the cache folder."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

from tests.cli.test_check_cache import aged, bookshop, check
from tests.conftest import Project

PACKAGE = Path(__file__).parents[1] / "manage"
CACHEFS = "light/cachefs.py"
# Modules that write the project's own files (migrations, pyproject, models, a lock file, a
# client's option file) or temporary folders (a SQLite shadow database, test databases), and
# never name the cache folder.
PROJECT_WRITERS = {
    "core/database.py",
    "core/testdb.py",
    "commands/dbshell.py",
    "commands/init.py",
    "commands/inspectdb.py",
    "commands/makemigrations.py",
    "commands/squashmigrations.py",
    "commands/update.py",
    "core/locking.py",
    "core/writing.py",
}
WRITING_METHODS = {
    "write_text",
    "write_bytes",
    "rename",
    "mkdir",
    "makedirs",
    "mkstemp",
    "mkdtemp",
    "NamedTemporaryFile",
    "unlink",
    "rmtree",
    "copyfile",
    "copy2",
    "move",
    "chmod",
    "dump",  # json.dump, pickle.dump (dumps returns bytes and writes nothing)
}
CACHE_NAMES = {"cache_dir", "XDG_CACHE_HOME", "pycache_prefix"}

__all__ = ["bookshop"]  # the fixture, used below


def _writes(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in WRITING_METHODS:
                found.append(f"{node.lineno}: {name}()")
            elif name == "replace" and isinstance(func, ast.Attribute) and not node.keywords:
                base = func.value
                if (isinstance(base, ast.Name) and base.id == "os") or len(node.args) == 1:
                    found.append(f"{node.lineno}: replace()")  # os.replace, Path.replace
            elif name in ("open", "fdopen") and _writing_mode(node) and not _devnull(node):
                found.append(f"{node.lineno}: {name}(..., writing)")
    return found


def _writing_mode(call: ast.Call) -> bool:
    modes = [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "mode")]
    return any(
        (
            isinstance(mode, ast.Constant)
            and isinstance(mode.value, str)
            and set("wax+") & set(mode.value)
        )
        or isinstance(mode, ast.BinOp | ast.Attribute)  # os.open flags
        for mode in modes
    )


def _devnull(call: ast.Call) -> bool:
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Attribute) and first.attr == "devnull"


def _names(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.alias):
            found.add(node.asname or node.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def test_only_cachefs_writes_into_the_cache_folder() -> None:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = str(path.relative_to(PACKAGE))
        if where == CACHEFS:
            continue
        tree = ast.parse(path.read_text(), where)
        writes = _writes(tree)
        if where in PROJECT_WRITERS:
            if named := CACHE_NAMES & _names(tree):
                bad.append(f"{where} writes project files and names the cache ({named})")
        else:
            bad += [f"{where}:{write}" for write in writes]
    assert bad == [], (
        "Files written outside manage/light/cachefs.py (use its write_cache/write_private/prune/"
        "salt, or add a module that writes only project files to PROJECT_WRITERS):\n"
        + "\n".join(bad)
    )


def test_the_scan_finds_each_kind_of_write() -> None:
    source = (
        "import os, json, pickle\n"
        "p.write_text('x')\n"
        "os.replace(a, b)\n"
        "tmp.replace(path)\n"
        "'a'.replace('a', 'b')\n"
        "json.dump({}, stream)\n"
        "open(p, 'wb')\n"
        "open(p)\n"
        "p.mkdir(parents=True)\n"
    )
    assert [line.split(": ")[1] for line in _writes(ast.parse(source))] == [
        "write_text()",
        "replace()",
        "replace()",
        "dump()",
        "open(..., writing)",
        "mkdir()",
    ]


def test_what_checks_leave_in_the_cache_folder_is_private(
    bookshop: Project, tmp_path: Path
) -> None:
    """A check from scratch, a remembered one, one after a model edit (the known pairs and the
    cached replay), and showmigrations's quick path, with a permissive umask."""
    umask = os.umask(0o022)
    try:
        assert check(bookshop)[:2] == (0, "No changes detected\n")
        assert check(bookshop) == (0, "No changes detected\n", False)
        models = bookshop.root / "bookshop/models.py"
        aged(models, models.read_text().replace("String(250)", "String(260)"))
        assert check(bookshop)[0] == 1
        assert bookshop.subprocess("showmigrations").returncode == 0
    finally:
        os.umask(umask)

    cache = tmp_path / "user-cache" / "sqlalchemy-manage"
    folders = {"answers", "insync", "replay", "pycache"}
    assert folders <= {p.name for p in cache.iterdir()}
    wrong = []
    for path in [cache, *cache.rglob("*")]:
        if "pycache" in path.relative_to(cache).parts[1:]:
            continue  # below pycache/ Python writes compiled files itself; pycache/ is 0700
        if path.relative_to(cache).parts[:1] == ("pycache",) and path.name != "pycache":
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600) or path.name.endswith(".tmp"):
            wrong.append(f"{path.relative_to(cache)} {oct(mode)}")
    assert wrong == []
    assert len((cache / "answers" / "salt").read_bytes()) == 32
    assert list((cache / "replay").glob("*.pickle")) and list((cache / "replay").glob("*.tables"))
