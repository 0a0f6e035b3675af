"""The lock-light forms makemigrations writes (issue 14, docs/zero-downtime.md): each is generated
from a model change by the real CLI, its text asserted, then applied, unapplied and applied again
with the real schema read each time, and ``makemigrations --check`` finds nothing left to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import Project

MODELS = """
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)


class Item(Base):
    __tablename__ = "item"
    __table_args__ = ()
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(sa.String(20))
    author_id: Mapped[int | None]
    qty: Mapped[int | None]
"""
ROWS = (
    "INSERT INTO author (id) VALUES (1); "
    "INSERT INTO item (id, code, author_id, qty) VALUES (1, 'a', 1, 5), (2, 'b', 1, 6)"
)


def flat(text: str) -> str:
    """The migration without whitespace or quotes' kind: the formatter decides the layout."""
    return "".join(text.split()).replace('"', "'").replace(",)", ")")


def started(project: Project, models: str = MODELS) -> None:
    """The first migration applied, with rows in the tables."""
    project.write("shop/models.py", models)
    made = project.run("makemigrations")
    assert made.exit_code == 0, made.output
    assert project.run("migrate").exit_code == 0
    engine = project.engine()
    try:
        with engine.begin() as connection:
            for statement in ROWS.split("; "):
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()


def change(project: Project, old: str, new: str, *args: str) -> str:
    """Edit the models, run makemigrations (with ``args``) and return the new file's text."""
    project.edit("shop/models.py", old, new)
    before = project.migrations()
    made = project.run("makemigrations", *args)
    assert made.exit_code == 0, made.output
    (written,) = set(project.migrations()) - set(before)
    return (project.root / "migrations" / written).read_text(encoding="utf-8")


def inspected(project: Project, read: Callable[[Any], Any]) -> Any:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            return read(sa.inspect(connection))
    finally:
        engine.dispose()


def round_trip(
    project: Project, back_to: str, applied: Any, unapplied: Any, read: Any, *flags: str
) -> None:
    """migrate, migrate ``back_to`` (with ``flags``), migrate: the schema ``read`` finds after
    each."""
    for args, expected in (
        (("migrate",), applied),
        (("migrate", back_to, *flags), unapplied),
        (("migrate",), applied),
    ):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert inspected(project, read) == expected, args
    check = project.run("makemigrations", "--check")
    assert check.exit_code == 0, check.output
    assert "No changes detected" in check.output
    assert "shadow database" not in check.output, "the replay in memory follows the safe forms"


def indexes(inspector: Any) -> list[tuple[str, list[str], bool]]:
    return sorted(
        (i["name"], i["column_names"], bool(i["unique"])) for i in inspector.get_indexes("item")
    )


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg(make_project: Any) -> Project:
    made: Project = make_project("postgresql")
    started(made)
    return made


def test_postgresql_index_created_and_dropped_concurrently(pg: Project) -> None:
    text = change(pg, "sa.String(20))", "sa.String(20), index=True)")

    assert flat(
        "with op.get_context().autocommit_block():\n"
        "    op.create_index(op.f('ix_item_code'), 'item', ['code'], unique=False,"
        " postgresql_concurrently=True)"
    ) in flat(text)
    assert flat(
        "with op.get_context().autocommit_block():\n"
        "    op.drop_index(op.f('ix_item_code'), table_name='item', postgresql_concurrently=True)"
    ) in flat(text)
    round_trip(pg, "0001", [("ix_item_code", ["code"], False)], [], indexes)

    text = change(pg, "sa.String(20), index=True)", "sa.String(20))")
    assert flat(
        "op.drop_index(op.f('ix_item_code'), table_name='item', postgresql_concurrently=True)"
    ) in flat(text.split("def downgrade")[0])
    round_trip(pg, "0002", [], [("ix_item_code", ["code"], False)], indexes)


def foreign_keys(inspector: Any) -> list[tuple[str, list[str], str]]:
    return [
        (k["name"], k["constrained_columns"], k["referred_table"])
        for k in inspector.get_foreign_keys("item")
    ]


def test_postgresql_foreign_key_not_valid_then_validated(pg: Project) -> None:
    fk = 'mapped_column(sa.ForeignKey("author.id"))'
    text = change(pg, "author_id: Mapped[int | None]", f"author_id: Mapped[int | None] = {fk}")

    assert flat(
        "op.create_foreign_key('item_author_id_fkey', 'item', 'author', ['author_id'], ['id'],"
        " postgresql_not_valid=True)\n"
        "with op.get_context().autocommit_block():\n"
        "    op.execute('ALTER TABLE item VALIDATE CONSTRAINT item_author_id_fkey')"
    ) in flat(text)
    assert flat("op.drop_constraint('item_author_id_fkey', 'item', type_='foreignkey')") in flat(
        text
    )
    round_trip(pg, "0001", [("item_author_id_fkey", ["author_id"], "author")], [], foreign_keys)
    assert validated(pg, "item_author_id_fkey")


def validated(project: Project, name: str) -> bool:
    engine = project.engine()
    try:
        with engine.connect() as connection:
            return bool(
                connection.execute(
                    sa.text("SELECT convalidated FROM pg_constraint WHERE conname = :n"),
                    {"n": name},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def checks(inspector: Any) -> list[tuple[str, str]]:
    return [(c["name"], c["sqltext"]) for c in inspector.get_check_constraints("item")]


def test_postgresql_check_constraint_not_valid_then_validated(pg: Project) -> None:
    check = 'sa.CheckConstraint("qty < 100", name="item_qty_small")'
    text = change(pg, "__table_args__ = ()", f"__table_args__ = ({check},)")

    assert flat(
        "op.create_check_constraint('item_qty_small', 'item', 'qty < 100',"
        " postgresql_not_valid=True)\n"
        "with op.get_context().autocommit_block():\n"
        "    op.execute('ALTER TABLE item VALIDATE CONSTRAINT item_qty_small')"
    ) in flat(text)
    round_trip(pg, "0001", [("item_qty_small", "qty < 100")], [], checks)
    assert validated(pg, "item_qty_small")


def nullability(inspector: Any) -> dict[str, bool]:
    return {c["name"]: c["nullable"] for c in inspector.get_columns("item")}


def test_postgresql_set_not_null_through_a_validated_check(pg: Project) -> None:
    text = change(pg, "qty: Mapped[int | None]", "qty: Mapped[int]")

    assert flat(
        "op.create_check_constraint(op.f('item_qty_not_null'), 'item', 'qty IS NOT NULL',"
        " postgresql_not_valid=True)\n"
        "with op.get_context().autocommit_block():\n"
        "    op.execute('ALTER TABLE item VALIDATE CONSTRAINT item_qty_not_null')\n"
        "op.alter_column('item', 'qty', existing_type=sa.INTEGER(), nullable=False)\n"
        "op.drop_constraint(op.f('item_qty_not_null'), 'item', type_='check')"
    ) in flat(text)
    assert flat("op.alter_column('item', 'qty', existing_type=sa.INTEGER(), nullable=True)") in (
        flat(text.split("def downgrade")[1])
    )

    def read(inspector: Any) -> tuple[bool, list[tuple[str, str]]]:
        return nullability(inspector)["qty"], checks(inspector)

    round_trip(pg, "0001", (False, []), (True, []), read)


def uniques(inspector: Any) -> list[tuple[str, list[str]]]:
    return [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints("item")]


def test_postgresql_unique_constraint_from_a_concurrent_index(pg: Project) -> None:
    text = change(pg, "sa.String(20))", "sa.String(20), unique=True)")

    assert flat(
        "with op.get_context().autocommit_block():\n"
        "    op.create_index('item_code_key', 'item', ['code'], unique=True,"
        " postgresql_concurrently=True)\n"
        "op.execute('ALTER TABLE item ADD CONSTRAINT item_code_key"
        " UNIQUE USING INDEX item_code_key')"
    ) in flat(text)
    assert flat("op.drop_constraint('item_code_key', 'item', type_='unique')") in flat(text)

    def read(inspector: Any) -> tuple[Any, ...]:
        return uniques(inspector), indexes(inspector)

    unique_index = [("item_code_key", ["code"], True)]
    round_trip(pg, "0001", ([("item_code_key", ["code"])], unique_index), ([], []), read)


def test_postgresql_volatile_default_split_from_the_add(pg: Project) -> None:
    text = change(
        pg,
        "    qty: Mapped[int | None]\n",
        "    qty: Mapped[int | None]\n"
        "    token: Mapped[uuid.UUID] = mapped_column(\n"
        '        server_default=sa.text("gen_random_uuid()")\n'
        "    )\n",
    )

    assert flat(
        "op.add_column('item', sa.Column('token', sa.Uuid(), nullable=True))\n"
        "op.alter_column('item', 'token', existing_type=sa.Uuid(),"
        " server_default=sa.text('gen_random_uuid()'), existing_nullable=True)\n"
        "with op.get_context().autocommit_block():\n"
        "    op.execute('UPDATE item SET token = DEFAULT WHERE token IS NULL')\n"
        "op.create_check_constraint(op.f('item_token_not_null'), 'item', 'token IS NOT NULL',"
        " postgresql_not_valid=True)"
    ) in flat(text)
    assert flat("op.drop_column('item', 'token')") in flat(text.split("def downgrade")[1])

    def read(inspector: Any) -> Any:
        columns = {c["name"]: c for c in inspector.get_columns("item")}
        token = columns.get("token")
        return token and (token["nullable"], str(token["default"]), checks(inspector))

    applied = (False, "gen_random_uuid()", [])
    round_trip(pg, "0001", applied, None, read, "--allow-data-loss")
    engine = pg.engine()
    try:
        with engine.connect() as connection:
            tokens = connection.exec_driver_sql("SELECT DISTINCT token FROM item").all()
    finally:
        engine.dispose()
    assert len(tokens) == 2, "each existing row got its own value"


def test_postgresql_stable_default_stays_in_the_add(pg: Project) -> None:
    """now() is STABLE: PostgreSQL 11+ stores it once, the add is instant, nothing to split."""
    text = change(
        pg,
        "    qty: Mapped[int | None]\n",
        "    qty: Mapped[int | None]\n"
        "    at: Mapped[str] = mapped_column(sa.DateTime(), server_default=sa.func.now())\n",
    )

    assert "server_default=sa.text('now()')" in text.replace('"', "'")
    assert "autocommit_block" not in text


def test_plain_ddl_flag_writes_alembics_form(pg: Project) -> None:
    text = change(pg, "sa.String(20))", "sa.String(20), index=True)", "--plain-ddl")

    assert "autocommit_block" not in text
    assert "concurrently" not in text
    assert flat("op.create_index(op.f('ix_item_code'), 'item', ['code'], unique=False)") in flat(
        text
    )
    round_trip(pg, "0001", [("ix_item_code", ["code"], False)], [], indexes)


def test_safe_ddl_setting_false_writes_alembics_form(pg: Project) -> None:
    pg.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nsafe_ddl = false',
    )

    text = change(pg, "qty: Mapped[int | None]", "qty: Mapped[int]")

    assert "not_null" not in text
    assert "autocommit_block" not in text


def test_safe_ddl_setting_of_the_wrong_type_is_one_message(sqlite_project: Project) -> None:
    sqlite_project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nsafe_ddl = "yes"',
    )

    result = sqlite_project.run("makemigrations")

    assert result.exit_code == 3
    assert result.output.strip().splitlines() == [
        "Error: safe_ddl (pyproject.toml [tool.manage]) must be true or false, not 'yes'. "
        "Fix the setting."
    ]


def test_sqlite_is_unchanged(sqlite_project: Project) -> None:
    started(sqlite_project)
    text = change(sqlite_project, "sa.String(20))", "sa.String(20), index=True)")

    assert "autocommit_block" not in text
    assert "concurrently" not in text
    assert "ALGORITHM" not in text


# -- MariaDB ------------------------------------------------------------------------------------


@pytest.fixture
def maria(make_project: Any) -> Project:
    made: Project = make_project("mariadb")
    started(made)
    return made


def test_mariadb_index_created_and_dropped_inplace_without_lock(maria: Project) -> None:
    text = change(maria, "sa.String(20))", "sa.String(20), index=True)")

    assert flat(
        "op.execute('ALTER TABLE item ADD INDEX ix_item_code (code), ALGORITHM=INPLACE, LOCK=NONE')"
    ) in flat(text)
    assert flat(
        "op.execute('ALTER TABLE item DROP INDEX ix_item_code, ALGORITHM=INPLACE, LOCK=NONE')"
    ) in flat(text)
    round_trip(maria, "0001", [("ix_item_code", ["code"], False)], [], indexes)

    text = change(maria, "sa.String(20), index=True)", "sa.String(20))")
    assert (
        "ALTER TABLE item DROP INDEX ix_item_code, ALGORITHM=INPLACE, LOCK=NONE"
        in text.split("def downgrade")[0]
    )
    round_trip(maria, "0002", [], [("ix_item_code", ["code"], False)], indexes)


def test_mariadb_column_added_instantly(maria: Project) -> None:
    text = change(
        maria,
        "    qty: Mapped[int | None]\n",
        "    qty: Mapped[int | None]\n"
        '    note: Mapped[str] = mapped_column(sa.String(30), server_default="none")\n',
    )

    assert flat(
        "op.execute(\"SET SESSION alter_algorithm = 'INSTANT'\")\n"
        "op.add_column('item', sa.Column('note', sa.String(length=30), server_default='none',"
        " nullable=False))\n"
        "op.execute('SET SESSION alter_algorithm = DEFAULT')"
    ).replace('"', "'") in flat(text)

    def read(inspector: Any) -> Any:
        return nullability(inspector).get("note")

    round_trip(maria, "0001", False, None, read, "--allow-data-loss")


def test_postgresql_given_shadow_database_replays_the_safe_forms(
    pg: Project, fresh_database: Any
) -> None:
    """A shadow database the project names is replayed into inside one transaction that is
    rolled back; the autocommit blocks of the safe forms must not commit into it."""
    shadow = fresh_database("postgresql", pg.root)
    pg.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        f'models = "shop.models:Base"\nshadow_database_url = "{shadow}"',
    )
    change(pg, "sa.String(20))", "sa.String(20), index=True)")
    text = change(pg, "qty: Mapped[int | None]", "qty: Mapped[int]")

    assert "item_qty_not_null" in text
    engine = sa.create_engine(shadow, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            assert sa.inspect(connection).get_table_names() == [], "the shadow is left empty"
    finally:
        engine.dispose()


def test_postgresql_update_rewrites_a_safe_migration(pg: Project) -> None:
    """The safe forms' statements are manage's own, not hand-written SQL that --update would
    lose: the latest migration is written anew with both changes."""
    change(pg, "sa.String(20))", "sa.String(20), index=True)")
    pg.edit("shop/models.py", "qty: Mapped[int | None]", "qty: Mapped[int]")

    updated = pg.run("makemigrations", "--update")

    assert updated.exit_code == 0, updated.output
    (path,) = (pg.root / "migrations").glob("0002_*.py")
    text = path.read_text(encoding="utf-8")
    assert "postgresql_concurrently=True" in text
    assert "VALIDATE CONSTRAINT item_qty_not_null" in text
    round_trip(pg, "0001", (False, [("ix_item_code", ["code"], False)]), (True, []), _both)


def _both(inspector: Any) -> tuple[bool, list[tuple[str, list[str], bool]]]:
    return nullability(inspector)["qty"], indexes(inspector)


def test_safe_ddl_is_shown_with_its_source(sqlite_project: Project) -> None:
    default = sqlite_project.run("-v", "2", "showmigrations")
    sqlite_project.edit(
        "pyproject.toml",
        'models = "shop.models:Base"',
        'models = "shop.models:Base"\nsafe_ddl = false',
    )
    set_false = sqlite_project.run("-v", "2", "showmigrations")

    assert "  safe_ddl = true  (default)" in default.output.splitlines()
    assert "  safe_ddl = false  (pyproject.toml [tool.manage])" in set_false.output.splitlines()


def test_postgresql_settings_module_safe_ddl_false(pg: Project) -> None:
    pg.write(
        "shop/settings.py",
        'import os\nMODELS = "shop.models:Base"\nDATABASE_URL = os.environ["DATABASE_URL"]\n'
        "SAFE_DDL = False\n",
    )
    pg.edit("shop/models.py", "sa.String(20))", "sa.String(20), index=True)")

    made = pg.run("--settings", "shop.settings", "makemigrations")

    assert made.exit_code == 0, made.output
    (path,) = (pg.root / "migrations").glob("0002_*.py")
    assert "concurrently" not in path.read_text(encoding="utf-8")


def test_settings_module_safe_ddl_of_the_wrong_type(sqlite_project: Project) -> None:
    sqlite_project.write("shop/settings.py", 'MODELS = "shop.models:Base"\nSAFE_DDL = 1\n')

    result = sqlite_project.run("--settings", "shop.settings", "makemigrations")

    assert result.exit_code == 3
    assert result.output.strip().splitlines() == [
        "Error: safe_ddl (settings module shop.settings) must be true or false, not 1. "
        "Fix the setting."
    ]


CONVENTION = """
class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
"""


def test_postgresql_safe_forms_under_the_models_naming_convention(make_project: Any) -> None:
    """SQLAlchemy's recommended convention renames a CHECK constraint given a name
    (ck_<table>_<name>): the VALIDATE of each safe form names the constraint as created."""
    project: Project = make_project("postgresql")
    started(project, MODELS.replace("class Base(DeclarativeBase):\n    pass\n", CONVENTION))
    project.edit("shop/models.py", "sa.String(20))", "sa.String(20), unique=True)")
    project.edit("shop/models.py", "qty: Mapped[int | None]", "qty: Mapped[int]")
    project.edit(
        "shop/models.py",
        "author_id: Mapped[int | None]",
        'author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("author.id"))',
    )
    text = change(
        project,
        "__table_args__ = ()",
        '__table_args__ = (sa.CheckConstraint("qty < 100", name="small"),)',
    )

    assert "VALIDATE CONSTRAINT ck_item_small" in text
    assert "VALIDATE CONSTRAINT fk_item_author_id_author" in text

    def read(inspector: Any) -> Any:
        return (
            sorted(c["name"] for c in inspector.get_check_constraints("item")),
            uniques(inspector),
            [k["name"] for k in inspector.get_foreign_keys("item")],
            nullability(inspector)["qty"],
        )

    applied = (["ck_item_small"], [("uq_item_code", ["code"])], ["fk_item_author_id_author"], False)
    round_trip(project, "0001", applied, ([], [], [], True), read)


def test_mariadb_safe_forms_under_the_models_naming_convention(make_project: Any) -> None:
    project: Project = make_project("mariadb")
    started(project, MODELS.replace("class Base(DeclarativeBase):\n    pass\n", CONVENTION))
    text = change(project, "sa.String(20))", "sa.String(20), index=True)")

    assert "ALTER TABLE item ADD INDEX ix_item_code (code), ALGORITHM=INPLACE, LOCK=NONE" in text
    round_trip(project, "0001", [("ix_item_code", ["code"], False)], [], indexes)


def test_postgresql_volatile_default_of_a_nullable_column_fills_the_rows(pg: Project) -> None:
    """As Alembic's add would: every existing row gets its own value, the column stays
    nullable (no check, no SET NOT NULL)."""
    text = change(
        pg,
        "    qty: Mapped[int | None]\n",
        "    qty: Mapped[int | None]\n"
        '    score: Mapped[float | None] = mapped_column(server_default=sa.text("random()"))\n',
    )

    assert flat("op.execute('UPDATE item SET score = DEFAULT WHERE score IS NULL')") in flat(text)
    assert "not_null" not in text

    def read(inspector: Any) -> Any:
        return nullability(inspector).get("score")

    round_trip(pg, "0001", True, None, read, "--allow-data-loss")
    engine = pg.engine()
    try:
        with engine.connect() as connection:
            scores = connection.exec_driver_sql("SELECT score FROM item").scalars().all()
    finally:
        engine.dispose()
    assert len(scores) == 2
    assert None not in scores
