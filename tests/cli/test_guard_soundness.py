"""The commit guard never answers "No changes detected" from a cache while a change is pending.

Each test is one way issue 11 fooled the caches: the console script runs ``manage makemigrations
--check`` as a user would, with its caches warm; after the change, its answer must equal the answer
of a run with no cache at all (a fresh ``XDG_CACHE_HOME``).
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import BIN

SETTLE_S = 2.2
"""Longer than any slack the caches give a just-written file (2 s on whole-second file systems)."""

BOOK_MIGRATION = '''\
"""Initial."""
import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "book",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("book")
'''

BOOK = """
class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
"""

HEADER = """\
import os
from pathlib import Path

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass
"""


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n") if relative.endswith(".py") else text)


def project(root: Path, models: str | None, *, extra: dict[str, str] | None = None) -> Path:
    """A project whose history creates ``book`` (id, title); ``models``: app/models.py."""
    write(
        root,
        {
            "pyproject.toml": '[tool.manage]\nmodels = "app.models:Base"\n',
            "app/__init__.py": "",
            **({"app/models.py": models} if models is not None else {}),
            "migrations/0001_initial.py": BOOK_MIGRATION,
            **(extra or {}),
        },
    )
    return root


def check(cwd: Path, cache: Path, **env: str) -> tuple[int, str]:
    """(exit code, stdout + stderr) of the ``manage`` console script."""
    base = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "MANAGE_SETTINGS_MODULE")
    }
    result = subprocess.run(
        [str(BIN / "manage"), "makemigrations", "--check"],
        cwd=cwd,
        env={**base, "XDG_CACHE_HOME": str(cache), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def cold(cwd: Path, tmp_path: Path, **env: str) -> tuple[int, str]:
    """The answer with no cache at all."""
    fresh = tmp_path / f"cold-cache-{time.monotonic_ns()}"
    return check(cwd, fresh, **env)


def warm_up(cwd: Path, cache: Path, **env: str) -> tuple[int, str]:
    """Let the files settle, then check twice so that every cache holds the answer."""
    time.sleep(SETTLE_S)
    first = check(cwd, cache, **env)
    assert check(cwd, cache, **env) == first
    return first


def keep_mtime(path: Path, text: str) -> None:
    """Write ``text`` and put the old modification time back (an editor keeping times, cp -p)."""
    before = path.stat()
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("where", ["table_info", "list_in_another_module"])
def test_include_object_hook_results_decide_the_answer(tmp_path: Path, where: str) -> None:
    cache = tmp_path / "cache"
    secret = """
class Secret(Base):
    __tablename__ = "secret"
    __table_args__ = {"info": {"skip_autogenerate": True}}
    id: Mapped[int] = mapped_column(primary_key=True)
"""
    hooks = {
        "table_info": """
            def include_object(obj, name, type_, reflected, compare_to):
                return not obj.info.get("skip_autogenerate")
            """,
        "list_in_another_module": """
            from app.skiplist import SKIP


            def include_object(obj, name, type_, reflected, compare_to):
                return not (type_ == "table" and name in SKIP)
            """,
    }
    root = project(
        tmp_path / "p",
        HEADER + BOOK + secret,
        extra={"app/hooks.py": hooks[where], "app/skiplist.py": 'SKIP = ["secret"]\n'},
    )
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'include_object = "app.hooks:include_object"\n')
    assert warm_up(root, cache) == (0, "No changes detected\n")

    if where == "table_info":
        models = root / "app/models.py"
        models.write_text(models.read_text().replace('"skip_autogenerate": True', '"x": 1'))
    else:
        (root / "app/skiplist.py").write_text("SKIP = []\n")

    expected = cold(root, tmp_path)
    assert expected[0] == 1 and "+ Create table secret" in expected[1]
    assert check(root, cache) == expected


def test_a_new_module_in_an_auto_importing_package_is_noticed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    root = project(tmp_path / "p", None, extra={"app/db.py": HEADER})
    write(
        root,
        {
            "app/models/__init__.py": """
                import importlib
                import pkgutil

                from app.db import Base

                for _module in pkgutil.iter_modules(__path__):
                    importlib.import_module(f"{__name__}.{_module.name}")
                """,
            "app/models/book.py": "from app.db import *\n" + BOOK,
        },
    )
    assert warm_up(root, cache) == (0, "No changes detected\n")

    write(
        root,
        {
            "app/models/tag.py": """
                from app.db import *


                class Tag(Base):
                    __tablename__ = "tag"
                    id: Mapped[int] = mapped_column(primary_key=True)
                """
        },
    )

    expected = cold(root, tmp_path)
    assert expected[0] == 1 and "+ Create table tag" in expected[1]
    assert check(root, cache) == expected


def test_a_repointed_migrations_symlink_is_noticed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    root = project(tmp_path / "p", HEADER + BOOK)
    (root / "migrations").rename(root / "history_a")
    write(root, {"history_b/0001_initial.py": BOOK_MIGRATION.replace("title", "name")})
    (root / "migrations").symlink_to("history_a")
    assert warm_up(root, cache) == (0, "No changes detected\n")

    # ln -sfn history_b migrations
    (root / "migrations.new").symlink_to("history_b")
    os.replace(root / "migrations.new", root / "migrations")

    expected = cold(root, tmp_path)
    assert expected[0] == 1 and "Add column title to book" in expected[1]
    assert check(root, cache) == expected


@pytest.mark.parametrize(
    "table",
    [
        '[tool]\nmanage.models = "subapp.models:Base"\n',
        '[tool]\nmanage = { models = "subapp.models:Base" }\n',
    ],
    ids=["dotted_keys", "inline_table"],
)
def test_a_sub_project_does_not_get_its_parents_answer(tmp_path: Path, table: str) -> None:
    cache = tmp_path / "cache"
    root = project(tmp_path / "p", HEADER + BOOK)
    sub = root / "sub"
    write(
        sub, {"pyproject.toml": table, "subapp/__init__.py": "", "subapp/models.py": HEADER + BOOK}
    )
    assert warm_up(root, cache) == (0, "No changes detected\n")

    expected = cold(sub, tmp_path)
    assert expected[0] == 1 and "+ Create table book" in expected[1]
    assert check(sub, cache) == expected


def test_a_models_file_replaced_during_a_check_by_an_older_copy_is_noticed(
    tmp_path: Path,
) -> None:
    """cp -p, rsync and tar keep the old mtime: the change time tells the file was replaced."""
    cache = tmp_path / "cache"
    newer = HEADER + BOOK.replace(
        "    title:", "    note: Mapped[str | None] = mapped_column(String(20))\n    title:"
    )
    replacing = f"""
{HEADER}{BOOK}
# Another process replaces this file while the check runs: cp -p models_next.py models.py
import shutil

shutil.copy2(Path(__file__).with_name("models_next.py"), __file__)
"""
    root = project(tmp_path / "p", replacing, extra={"app/models_next.py": newer})
    old = time.time() - 3600
    os.utime(root / "app/models_next.py", (old, old))
    time.sleep(SETTLE_S)

    assert check(root, cache) == (0, "No changes detected\n")  # the old models, as imported

    expected = cold(root, tmp_path)
    assert expected[0] == 1 and "+ Add column note to book" in expected[1]
    assert check(root, cache) == expected


@pytest.mark.parametrize("source", ["environment_variable", "data_file"])
def test_models_reading_the_environment_or_a_data_file(tmp_path: Path, source: str) -> None:
    cache = tmp_path / "cache"
    extra_columns = """
if os.environ.get("APP_EXTRA_COLUMN"):
    Book.note = mapped_column(String(20), nullable=True)
for _name in (Path(__file__).parent / "columns.txt").read_text().split():
    setattr(Book, _name, mapped_column(String(20), nullable=True))
"""
    root = project(tmp_path / "p", HEADER + BOOK + extra_columns, extra={"app/columns.txt": "\n"})
    assert warm_up(root, cache) == (0, "No changes detected\n")

    env: dict[str, str] = {}
    if source == "environment_variable":
        env["APP_EXTRA_COLUMN"] = "1"
    else:
        keep_mtime(root / "app/columns.txt", "note\n")

    expected = cold(root, tmp_path, **env)
    assert expected[0] == 1 and "+ Add column note to book" in expected[1]
    assert check(root, cache, **env) == expected
