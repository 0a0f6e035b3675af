"""Each lint rule on hand-written migrations in a tmp project: the plain form is flagged, the safe
form (what makemigrations writes on the safeops branch) is not. The lint reads migration files
only, so the database URL only names the dialect (nothing connects)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from manage.commands import lint
from manage.core.settings import load_settings

URLS = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/never_connected",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/never_connected",
    "sqlite": "sqlite:///never.sqlite3",
}

INITIAL = """
revision = "0001_initial"
down_revision = None
import sqlalchemy as sa
from alembic import op


def upgrade():
    op.create_table("author", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(100), nullable=True))
    op.create_table("book", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("title", sa.String(200), nullable=True),
                    sa.Column("author_id", sa.Integer, nullable=True))


def downgrade():
    pass
"""

BLOCK = "with op.get_context().autocommit_block():"


def lint_body(tmp_path: Path, body: str, dialect: str = "postgresql", *, advice: bool = False,
              second: str | None = None) -> list[tuple[str, int | None]]:  # fmt: skip
    """The (rule, line) findings of a migration 0002 whose upgrade() is ``body``."""
    root = tmp_path / "project"
    (root / "migrations").mkdir(parents=True)
    (root / "models.py").write_text("import sqlalchemy as sa\nmetadata = sa.MetaData()\n")
    (root / "pyproject.toml").write_text('[tool.manage]\nmodels = "models:metadata"\n')
    (root / "migrations" / "0001_initial.py").write_text(INITIAL)
    parts = [("0002_change", "0001_initial", body)]
    if second is not None:
        parts.append(("0003_more", "0002_change", second))
    for revision, down, text in parts:
        upgrade = textwrap.indent(textwrap.dedent(text).strip(), "    ")
        (root / "migrations" / f"{revision}.py").write_text(
            f'revision = "{revision}"\ndown_revision = "{down}"\n'
            "import sqlalchemy as sa\nfrom alembic import op\n\n\n"
            f"def upgrade():\n{upgrade}\n\n\ndef downgrade():\n    pass\n"
        )
    settings = load_settings(cwd=root, database_url=URLS[dialect])
    result = lint(settings, [parts[-1][0]], advice=advice)
    return [(f.rule, f.line) for f in result.findings]


def rules(found: list[tuple[str, int | None]]) -> list[str]:
    return [rule for rule, _line in found]


# rule, plain form, safe form (None: the rule has no safe form of the same change)
POSTGRESQL = [
    ("M101", 'op.create_index("ix_t", "book", ["title"])',
     f'{BLOCK}\n    op.create_index("ix_t", "book", ["title"], postgresql_concurrently=True, '
     "if_not_exists=True)"),
    ("M102", 'op.drop_index("ix_t", table_name="book")',
     f'{BLOCK}\n    op.drop_index("ix_t", table_name="book", postgresql_concurrently=True, '
     "if_exists=True)"),
    ("M103", 'op.create_index("ix_t", "book", ["title"], postgresql_concurrently=True, '
     "if_not_exists=True)", None),
    ("M104", 'op.create_foreign_key("fk_b", "book", "author", ["author_id"], ["id"])',
     'op.create_foreign_key("fk_b", "book", "author", ["author_id"], ["id"], '
     f'postgresql_not_valid=True)\n{BLOCK}\n    op.execute("ALTER TABLE book VALIDATE '
     'CONSTRAINT fk_b")'),
    ("M105", 'op.create_check_constraint("ck_b", "book", "id > 0")',
     'op.create_check_constraint("ck_b", "book", "id > 0", postgresql_not_valid=True)\n'
     f'{BLOCK}\n    op.execute("ALTER TABLE book VALIDATE CONSTRAINT ck_b")'),
    ("M106", 'op.execute("ALTER TABLE book ADD CONSTRAINT ck_b CHECK (id > 0) NOT VALID")\n'
     'op.execute("ALTER TABLE book VALIDATE CONSTRAINT ck_b")', None),
    ("M107", 'op.alter_column("book", "title", nullable=False, existing_type=sa.String(200))',
     'op.create_check_constraint("ck_nn", "book", "title IS NOT NULL", '
     f'postgresql_not_valid=True)\n{BLOCK}\n    op.execute("ALTER TABLE book VALIDATE '
     'CONSTRAINT ck_nn")\nop.alter_column("book", "title", nullable=False, '
     'existing_type=sa.String(200))\nop.drop_constraint("ck_nn", "book", type_="check")'),
    ("M108", 'op.add_column("book", sa.Column("u", sa.Uuid(), '
     'server_default=sa.text("gen_random_uuid()")))',
     'op.add_column("book", sa.Column("u", sa.Uuid()))\n'
     'op.alter_column("book", "u", server_default=sa.text("gen_random_uuid()"))'),
    ("M109", 'op.alter_column("book", "title", type_=sa.Integer(), '
     "existing_type=sa.String(200))",
     'op.alter_column("book", "title", type_=sa.String(300), existing_type=sa.String(200))'),
    ("M110", 'op.create_unique_constraint("uq_t", "book", ["title"])',
     f'{BLOCK}\n    op.create_index("uq_t", "book", ["title"], unique=True, '
     'postgresql_concurrently=True, if_not_exists=True)\nop.execute("ALTER TABLE book ADD '
     'CONSTRAINT uq_t UNIQUE USING INDEX uq_t")'),
    ("M111", 'op.execute("ALTER TABLE author ADD PRIMARY KEY (name)")',
     'op.execute("ALTER TABLE author ADD CONSTRAINT pk_a PRIMARY KEY USING INDEX ix_a")'),
    ("M113", 'op.execute("COMMIT")', None),
    ("M114", 'op.execute("DROP DATABASE other")', None),
    ("M301", 'op.drop_column("book", "title")', None),
    ("M302", 'op.drop_table("author")', None),
    ("M303", 'op.alter_column("book", "title", new_column_name="name")', None),
    ("M304", 'op.rename_table("book", "books")', None),
    ("M305", 'op.add_column("book", sa.Column("isbn", sa.String(20), nullable=False))',
     'op.add_column("book", sa.Column("isbn", sa.String(20), nullable=False, '
     'server_default="x"))'),
    ("M306", 'op.alter_column("book", "title", nullable=True, existing_type=sa.String(200))',
     None),
    ("M307", 'op.drop_constraint("uq_t", "book", type_="unique")', None),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "plain", "safe"), POSTGRESQL, ids=[r[0] for r in POSTGRESQL])
def test_postgresql_rule(tmp_path: Path, rule: str, plain: str, safe: str | None) -> None:
    assert rules(lint_body(tmp_path, plain)) == [rule]
    if safe is not None:
        assert lint_body(tmp_path / "safe", safe) == []


def test_set_not_null_after_a_check_validated_in_an_earlier_migration(tmp_path: Path) -> None:
    """The safe form split over two migrations: 0003 sets NOT NULL through 0002's check."""
    first = (
        'op.create_check_constraint("ck_nn", "book", "title IS NOT NULL", '
        f'postgresql_not_valid=True)\n{BLOCK}\n    op.execute("ALTER TABLE book VALIDATE '
        'CONSTRAINT ck_nn")'
    )
    then = 'op.alter_column("book", "title", nullable=False, existing_type=sa.String(200))'
    assert lint_body(tmp_path, first, second=then) == []
    unvalidated = 'op.create_check_constraint("ck_nn", "book", "title IS NOT NULL", postgresql_not_valid=True)'  # noqa: E501
    assert rules(lint_body(tmp_path / "b", unvalidated, second=then)) == ["M107"]


def test_tables_created_in_the_same_migration_take_no_lock_rule(tmp_path: Path) -> None:
    body = """
    op.create_table("shelf", sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("book_id", sa.Integer))
    op.create_index("ix_s", "shelf", ["book_id"])
    op.create_foreign_key("fk_s", "shelf", "book", ["book_id"], ["id"])
    """
    assert lint_body(tmp_path, body) == []


def test_sql_text_is_read_like_operations(tmp_path: Path) -> None:
    body = """
    op.execute("CREATE UNIQUE INDEX ix_t ON public.book (title)")
    op.execute(sa.text("ALTER TABLE book ADD COLUMN n int NOT NULL, ALTER COLUMN title TYPE text"))
    op.execute("-- CREATE INDEX in a comment\\nSELECT 'DROP TABLE book'")
    """
    assert lint_body(tmp_path, body) == [
        ("M101", 8),
        ("M305", 9),
        ("M109", 9),
    ]  # the body starts on line 8


def test_the_line_of_each_finding_and_the_allow_comment(tmp_path: Path) -> None:
    body = """
    op.create_index("ix_a", "book", ["title"])  # manage: allow M101
    # manage: allow require-concurrent-index-creation
    op.create_index("ix_b", "book", ["title"])
    op.create_index("ix_c", "book", ["title"])  # manage: allow M104
    op.drop_column("book", "title")  # manage: allow all
    op.create_index("ix_d", "book", ["title"])
    """
    # a comment after an operation allows that operation only, not the one below it
    assert lint_body(tmp_path, body) == [("M101", 11), ("M101", 13)]


def test_a_migration_that_needs_a_database_is_read_until_it_stops(tmp_path: Path) -> None:
    body = """
    op.create_index("ix_a", "book", ["title"])
    rows = op.get_bind().execute(sa.text("SELECT id FROM book")).fetchall()
    op.create_index("ix_b", "book", ["title"])
    """
    assert lint_body(tmp_path, body) == [("M101", 8)]
    settings = load_settings(cwd=tmp_path / "project", database_url=URLS["postgresql"])
    (migration,) = lint(settings, ["0002"]).migrations
    assert migration.unread is not None and migration.unread.startswith("its upgrade() raised")


MYSQL = [
    ("M401", 'op.create_index("ix_t", "book", ["title"])',
     'op.execute("ALTER TABLE book ADD INDEX ix_t (title), ALGORITHM=INPLACE, LOCK=NONE")'),
    ("M401", 'op.add_column("book", sa.Column("n", sa.Integer(), nullable=True))',
     'op.execute("ALTER TABLE book ADD COLUMN n INT NULL, ALGORITHM=INSTANT")'),
    ("M402", 'op.execute("ALTER TABLE book MODIFY title VARCHAR(300) NULL, ALGORITHM=INPLACE, '
     'LOCK=NONE")\nop.alter_column("book", "title", type_=sa.Integer(), '
     "existing_type=sa.String(200), existing_nullable=True)", None),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "plain", "safe"), MYSQL, ids=["index", "column", "type"])
def test_mysql_rule(tmp_path: Path, rule: str, plain: str, safe: str | None) -> None:
    assert rule in rules(lint_body(tmp_path, plain, "mariadb"))
    if safe is not None:
        assert lint_body(tmp_path / "safe", safe, "mariadb") == []


def test_mysql_foreign_key(tmp_path: Path) -> None:
    body = 'op.create_foreign_key("fk_b", "book", "author", ["author_id"], ["id"])'
    assert rules(lint_body(tmp_path, body, "mariadb")) == ["M403"]


def test_mariadb_session_alter_algorithm(tmp_path: Path) -> None:
    """What makemigrations writes for a column on MariaDB (the safeops branch)."""
    body = """
    op.execute("SET SESSION alter_algorithm = 'INSTANT'")
    op.add_column("book", sa.Column("status", sa.String(20), server_default="draft",
                                    nullable=False))
    op.execute("SET SESSION alter_algorithm = DEFAULT")
    op.execute("ALTER TABLE book ADD INDEX ix_book_title (title), ALGORITHM=INPLACE, LOCK=NONE")
    op.execute("ALTER TABLE book DROP INDEX ix_book_x, ALGORITHM=INPLACE, LOCK=NONE")
    op.add_column("book", sa.Column("n", sa.Integer(), nullable=True))
    """
    assert lint_body(tmp_path, body, "mariadb") == [("M401", 14)]


def test_mysql_compat_rules_and_no_postgresql_lock_rule(tmp_path: Path) -> None:
    body = 'op.drop_column("book", "title")'
    assert rules(lint_body(tmp_path, body, "mariadb")) == ["M401", "M301"]


def test_sqlite_takes_no_rule(tmp_path: Path) -> None:
    body = 'op.create_index("ix_t", "book", ["title"])\nop.drop_column("book", "title")'
    assert lint_body(tmp_path, body, "sqlite") == []


ADVICE = [
    ("M201", 'op.add_column("book", sa.Column("c", sa.CHAR(3)))'),
    ("M202", 'op.add_column("book", sa.Column("c", sa.Integer()))'),
    ("M203", 'op.add_column("book", sa.Column("c", sa.String(30)))'),
    ("M204", 'op.add_column("book", sa.Column("c", sa.DateTime()))'),
    ("M205", 'op.execute("ALTER TABLE book ADD COLUMN c bigserial")'),
    ("M206", 'op.add_column("book", sa.Column("c", sa.JSON()))'),
]


@pytest.mark.parametrize(("rule", "plain"), ADVICE, ids=[r[0] for r in ADVICE])
def test_advice_rule_only_when_asked(tmp_path: Path, rule: str, plain: str) -> None:
    assert rule in rules(lint_body(tmp_path, plain, advice=True))
    assert rule not in rules(lint_body(tmp_path / "b", plain))


def test_m112_robust_concurrent_index_is_advice(tmp_path: Path) -> None:
    plain = f'{BLOCK}\n    op.create_index("ix_t", "book", ["title"], postgresql_concurrently=True)'
    assert lint_body(tmp_path, plain) == []
    assert rules(lint_body(tmp_path / "b", plain, advice=True)) == ["M112"]
    robust = plain.replace("=True)", "=True, if_not_exists=True)")
    assert lint_body(tmp_path / "c", robust, advice=True) == []


def test_advice_has_a_safe_form(tmp_path: Path) -> None:
    body = """
    op.add_column("book", sa.Column("a", sa.Text()))
    op.add_column("book", sa.Column("b", sa.BigInteger()))
    op.add_column("book", sa.Column("c", sa.DateTime(timezone=True)))
    from sqlalchemy.dialects.postgresql import JSONB
    op.add_column("book", sa.Column("d", JSONB()))
    """
    assert lint_body(tmp_path, body, advice=True) == []


SAFEOPS_POSTGRESQL = """
op.add_column("book", sa.Column("public_id", sa.Uuid(), nullable=True))
op.alter_column("book", "public_id", existing_type=sa.Uuid(),
                server_default=sa.text("gen_random_uuid()"), existing_nullable=True)
with op.get_context().autocommit_block():
    op.execute("UPDATE book SET public_id = DEFAULT WHERE public_id IS NULL")
op.create_check_constraint("book_public_id_not_null", "book", "public_id IS NOT NULL",
                           postgresql_not_valid=True)
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT book_public_id_not_null")
op.alter_column("book", "public_id", existing_type=sa.Uuid(), nullable=False,
                existing_server_default=sa.text("gen_random_uuid()"))
op.drop_constraint("book_public_id_not_null", "book", type_="check")
op.create_check_constraint("book_title_not_null", "book", "title IS NOT NULL",
                           postgresql_not_valid=True)
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT book_title_not_null")
op.alter_column("book", "title", existing_type=sa.VARCHAR(length=200), nullable=False)
op.drop_constraint("book_title_not_null", "book", type_="check")
with op.get_context().autocommit_block():
    op.create_index(op.f("ix_book_title"), "book", ["title"], unique=False,
                    postgresql_concurrently=True)
    op.create_index("book_isbn_key", "book", ["isbn"], unique=True,
                    postgresql_concurrently=True)
op.execute("ALTER TABLE book ADD CONSTRAINT book_isbn_key UNIQUE USING INDEX book_isbn_key")
op.create_foreign_key("book_author_id_fkey", "book", "author", ["author_id"], ["id"],
                      postgresql_not_valid=True)
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT book_author_id_fkey")
op.create_check_constraint("book_pages_positive", "book", "pages > 0",
                           postgresql_not_valid=True)
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT book_pages_positive")
"""


def test_the_safe_forms_makemigrations_writes_draw_no_finding(tmp_path: Path) -> None:
    """The upgrade docs/zero-downtime.md shows (safeops branch), as written; with --advice,
    only M112: its concurrent indexes have no IF NOT EXISTS."""
    assert lint_body(tmp_path, SAFEOPS_POSTGRESQL) == []
    found = rules(lint_body(tmp_path / "b", SAFEOPS_POSTGRESQL, advice=True))
    assert found == ["M112", "M112"]
    plain = SAFEOPS_POSTGRESQL.replace(", postgresql_not_valid=True", "").replace(
        "postgresql_not_valid=True", ""
    )
    assert set(rules(lint_body(tmp_path / "c", plain))) == {"M104", "M105"}
