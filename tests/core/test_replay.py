"""The in-memory replay builds the same tables, columns, indexes, unique sets and foreign keys as
replaying the migrations into a real database does, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from manage.core.migrations.environment import MigrationEnvironment
from manage.core.replay import UnreplayableError, record, replay
from manage.core.settings import load_settings
from tests.conftest import Project

HEADER = """
import sqlalchemy as sa
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
"""

STEPS = [
    # 1: the initial tables
    HEADER
    + """
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
""",
    # 2: add columns, an index, a unique constraint
    HEADER
    + """
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)
    price: Mapped[int | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
""",
    # 3: alter a type and a nullability
    HEADER
    + """
    name: Mapped[str | None] = mapped_column(String(150))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), index=True)
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)
    price: Mapped[int | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
""",
    # 4: drop a column, add a table and a foreign key to it
    HEADER
    + """
    name: Mapped[str | None] = mapped_column(String(150))


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300), index=True)
    isbn: Mapped[str | None] = mapped_column(String(13), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id"))
""",
    # 5: drop an index and a unique constraint
    HEADER
    + """
    name: Mapped[str | None] = mapped_column(String(150))


class Publisher(Base):
    __tablename__ = "publisher"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    isbn: Mapped[str | None] = mapped_column(String(13))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publisher.id"))
""",
    # 6: drop the table again, with the foreign key to it
    HEADER
    + """
    name: Mapped[str | None] = mapped_column(String(150))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    isbn: Mapped[str | None] = mapped_column(String(13))
    author_id: Mapped[int] = mapped_column(ForeignKey("author.id"))
""",
]


def structure(tables: dict[str, dict[str, Any]], dialect: str) -> dict[str, Any]:
    """Tables as the comparison sees them; MariaDB's implicit foreign-key indexes left out."""
    result = {}
    for name, info in tables.items():
        fk_columns = {tuple(fk["constrained_columns"]) for fk in info["fks"]}
        indexes = {
            tuple(ix["column_names"])
            for ix in info["indexes"]
            if not ix["unique"]
            and not (dialect == "mariadb" and tuple(ix["column_names"]) in fk_columns)
        }
        uniques = {tuple(u["column_names"]) for u in info["uniques"]}
        uniques |= {tuple(ix["column_names"]) for ix in info["indexes"] if ix["unique"]}
        result[name] = {
            "columns": {c["name"]: bool(c["nullable"]) for c in info["columns"]},
            "indexes": indexes,
            "uniques": uniques,
            "fks": {
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in info["fks"]
            },
        }
    return result


def reflected(connection: sa.Connection) -> dict[str, dict[str, Any]]:
    inspector = sa.inspect(connection)
    return {
        name: {
            "columns": inspector.get_columns(name),
            "indexes": inspector.get_indexes(name),
            "uniques": inspector.get_unique_constraints(name),
            "fks": inspector.get_foreign_keys(name),
        }
        for name in inspector.get_table_names()
        if name not in ("alembic_version", "manage_migration_history")  # manage's own tables
    }


def in_memory(tables: dict[str, sa.Table]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "columns": [{"name": c.name, "nullable": c.nullable} for c in table.columns],
            "indexes": [
                {"column_names": [c.name for c in ix.columns], "unique": bool(ix.unique)}
                for ix in table.indexes
            ],
            "uniques": [
                {"column_names": [c.name for c in u.columns]}
                for u in table.constraints
                if isinstance(u, sa.UniqueConstraint)
            ],
            "fks": [
                {
                    "constrained_columns": [c.name for c in fk.columns],
                    "referred_table": fk.elements[0].column.table.name,
                    "referred_columns": [e.column.name for e in fk.elements],
                }
                for fk in table.foreign_key_constraints
            ],
        }
        for name, table in tables.items()
    }


def test_each_step_of_a_history_replays_like_the_database(project: Project) -> None:
    for number, models in enumerate(STEPS, start=1):
        project.write("shop/models.py", models)
        made = project.run("makemigrations")
        assert made.exit_code == 0, made.output
        assert project.run("migrate").exit_code == 0
        env = MigrationEnvironment(load_settings(cwd=project.root))
        scripts = list(reversed(list(env.script.walk_revisions())))
        assert len(scripts) == number

        state = replay(scripts, project.engine().dialect.name)

        engine = project.engine()
        with engine.connect() as connection:
            real = structure(reflected(connection), project.dialect)
        engine.dispose()
        assert structure(in_memory(state.tables()), project.dialect) == real, f"step {number}"


def test_the_example_project_replays_like_the_database(
    tmp_path: Path, fresh_database: Any, dialect: str
) -> None:
    root = tmp_path / "bookshop"
    shutil.copytree(Path(__file__).parents[2] / "example_project", root)
    url = fresh_database(dialect, root)
    project = Project(root, url, dialect)
    result = project.subprocess("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    env = MigrationEnvironment(load_settings(cwd=root, database_url=url))

    state = replay(list(reversed(list(env.script.walk_revisions()))), project.engine().dialect.name)

    engine = project.engine()
    with engine.connect() as connection:
        real = structure(reflected(connection), dialect)
    engine.dispose()
    assert structure(in_memory(state.tables()), dialect) == real


def test_raw_ddl_cannot_be_replayed_and_says_where(sqlite_project: Project) -> None:
    sqlite_project.write(
        "migrations/0001_raw.py",
        """
        from alembic import op

        revision = "0001_raw"
        down_revision = None


        def upgrade() -> None:
            op.execute("INSERT INTO nothing VALUES (1)")
            op.execute("CREATE TABLE legacy (id INTEGER PRIMARY KEY)")


        def downgrade() -> None:
            pass
        """,
    )
    env = MigrationEnvironment(load_settings(cwd=sqlite_project.root))
    [script] = list(env.script.walk_revisions())

    assert len(record(script, "sqlite")) == 2
    with pytest.raises(UnreplayableError) as failure:
        replay([script], "sqlite")
    assert str(failure.value) == (
        "Migration 0001_raw runs op.execute('CREATE TABLE legacy (id INTEGER PRIMARY KEY)'), "
        "whose effect on the schema cannot be known without a database"
    )
    assert failure.value.revision == "0001_raw"


def test_a_migration_that_reads_the_database_cannot_be_replayed(sqlite_project: Project) -> None:
    sqlite_project.write(
        "migrations/0001_reads.py",
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "0001_reads"
        down_revision = None


        def upgrade() -> None:
            for row in op.get_bind().execute(sa.text("SELECT 1")).fetchall():
                pass


        def downgrade() -> None:
            pass
        """,
    )
    env = MigrationEnvironment(load_settings(cwd=sqlite_project.root))
    [script] = list(env.script.walk_revisions())

    with pytest.raises(UnreplayableError) as failure:
        record(script, "sqlite")
    assert str(failure.value).startswith(
        "Migration 0001_reads cannot be replayed without a database: its upgrade() raised "
        "AttributeError"
    )


def test_added_enum_values_go_to_the_type_of_that_schema(sqlite_project: Project) -> None:
    """``ALTER TYPE s1.status ADD VALUE`` changes s1.status, not public's status."""
    sqlite_project.write(
        "migrations/0001_two_types.py",
        """
        import sqlalchemy as sa
        from alembic import op

        revision = "0001_two_types"
        down_revision = None


        def upgrade() -> None:
            op.create_table(
                "author",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("status", sa.Enum("x", "y", name="status", create_type=False)),
            )
            op.create_table(
                "book",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column(
                    "status", sa.Enum("x", "y", name="status", schema="s1", create_type=False)
                ),
                schema="s1",
            )
            op.execute("ALTER TYPE s1.status ADD VALUE IF NOT EXISTS 'z' AFTER 'y'")


        def downgrade() -> None:
            pass
        """,
    )
    env = MigrationEnvironment(load_settings(cwd=sqlite_project.root))
    [script] = list(env.script.walk_revisions())

    state = replay([script], "postgresql")

    tables = state.tables()
    assert list(tables["author"].c.status.type.enums) == ["x", "y"]  # type: ignore[attr-defined]
    assert list(tables["s1.book"].c.status.type.enums) == ["x", "y", "z"]  # type: ignore[attr-defined]
