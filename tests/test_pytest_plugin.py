"""The pytest plugin (manage.pytest_plugin), run with pytester on generated projects."""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from manage.core.settings import load_settings
from manage.core.testdb import drop_templates
from tests.conftest import BIN, PROJECTS

USER_TEST = """
from sqlalchemy import inspect, text


def test_the_database_is_at_head(migrated_database, manage_settings):
    tables = set(inspect(migrated_database.engine).get_table_names())
    assert tables == {"author", "book", manage_settings.version_table}
    with migrated_database.engine.begin() as connection:
        connection.execute(text("INSERT INTO author (id, name) VALUES (1, 'Ada')"))
    assert migrated_database.url != manage_settings.database_url
"""

DATA_MIGRATION = """
from alembic import op

revision = "0002_data"
down_revision = "0001_initial"


def upgrade():
    op.execute("INSERT INTO author (id, name) VALUES (2, 'Grace')")


def downgrade():
    pass
"""

BUILT_IN = [
    "manage-migrations::test_single_head PASSED",
    "manage-migrations::test_upgrade PASSED",
    "manage-migrations::test_downgrade_and_upgrade PASSED",
    "manage-migrations::test_models_match_migrations PASSED",
]


@pytest.fixture
def shop(pytester: pytest.Pytester, fresh_database: object, request: pytest.FixtureRequest):
    """The shop project with its first migration, in pytester's folder; DATABASE_URL points at
    a server database for PostgreSQL (the tests create their own databases next to it)."""
    dialect = getattr(request, "param", "sqlite")
    root = pytester.path
    for path in (PROJECTS / "shop").rglob("*"):
        if path.is_file():
            target = root / path.relative_to(PROJECTS / "shop")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    if dialect != "sqlite":
        url = fresh_database(dialect, root)  # type: ignore[operator]
        os.environ["DATABASE_URL"] = url
        request.addfinalizer(lambda: drop_templates(load_settings(cwd=root)))
    manage("makemigrations", cwd=root)
    pytester.makepyfile(test_shop=USER_TEST)
    return pytester


def manage(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        [str(BIN / "manage"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("shop", ["sqlite", "postgresql"], indirect=True)
def test_fixtures_and_built_in_tests_pass_on_a_sound_project(shop: pytest.Pytester) -> None:
    # A data migration: unapplying everything drops rows, which the built-in test allows.
    (shop.path / "migrations" / "0002_data.py").write_text(DATA_MIGRATION)
    result = shop.runpytest_subprocess("--manage-migrations", "-v", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([f"{line}*" for line in BUILT_IN])
    result.stdout.fnmatch_lines(["test_shop.py::test_the_database_is_at_head PASSED*"])


def test_a_model_change_without_migration_fails_and_shows_the_code(shop: pytest.Pytester) -> None:
    (shop.path / "shop" / "models.py").write_text(
        (shop.path / "shop" / "models.py")
        .read_text()
        .replace(
            "    name: Mapped[str] = mapped_column(String(100))\n",
            "    name: Mapped[str] = mapped_column(String(100))\n"
            "    email: Mapped[str | None] = mapped_column(String(200))\n",
        )
    )

    result = shop.runpytest_subprocess("--manage-migrations", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "_* test_models_match_migrations _*",
            "The models differ from the schema the migrations produce:",
            "    + Add column email to author",
            "Run 'manage makemigrations' to write a migration with:",
            "with op.batch_alter_table('author', schema=None) as batch_op:",
            "    batch_op.add_column(sa.Column('email', sa.String(length=200), nullable=True))",
        ]
    )


def test_a_downgrade_that_leaves_tables_and_two_heads_fail(shop: pytest.Pytester) -> None:
    migrations = shop.path / "migrations"
    first = next(migrations.glob("0001_*.py"))
    code = first.read_text()
    assert 'op.drop_table("author")' in code  # generated migrations are formatted by ruff
    first.write_text(code.replace('op.drop_table("author")', "pass"))
    downgrade = shop.runpytest_subprocess("--manage-migrations", "-p", "no:cacheprovider")
    second = migrations / "0002_other.py"
    second.write_text(
        textwrap.dedent(
            """
            revision = "0002_other"
            down_revision = None
            branch_labels = None
            depends_on = None


            def upgrade():
                pass


            def downgrade():
                pass
            """
        )
    )

    heads = shop.runpytest_subprocess(
        "--manage-migrations", "-p", "no:cacheprovider", "-k", "single_head"
    )

    downgrade.assert_outcomes(passed=4, failed=1)
    downgrade.stdout.fnmatch_lines(
        [
            "_* test_downgrade_and_upgrade _*",
            "After unapplying every migration these tables are left: author. Drop them in the "
            "downgrade() of the migration that creates them.",
        ]
    )
    heads.assert_outcomes(failed=1)
    heads.stdout.fnmatch_lines(
        [
            "The migrations have 2 heads: 0001_initial, 0002_other. Run 'manage makemigrations "
            "--merge' to join them.",
        ]
    )


@pytest.mark.parametrize("shop", ["postgresql"], indirect=True)
def test_postgresql_sessions_clone_a_template_keyed_by_the_migration_files(
    shop: pytest.Pytester,
) -> None:
    marker = shop.path / "ran.log"
    first = next((shop.path / "migrations").glob("0001_*.py"))
    first.write_text(
        first.read_text().replace(
            "def upgrade() -> None:\n",
            f"def upgrade() -> None:\n    open({str(marker)!r}, 'a').write('ran\\n')\n",
        )
    )
    url = make_url(os.environ["DATABASE_URL"])

    runs = [shop.runpytest_subprocess("-p", "no:cacheprovider") for _ in range(2)]
    templates_before = templates(url)
    first.write_text(first.read_text() + "\n# changed\n")
    runs.append(shop.runpytest_subprocess("-p", "no:cacheprovider"))
    both = templates(url)
    # The old template was used a moment ago (another checkout may be cloning it): kept, until
    # it has not been used for an hour.
    age(url, templates_before[0], hours=2)
    runs.append(shop.runpytest_subprocess("-p", "no:cacheprovider"))
    current = templates(url)
    # A template that vanishes (another session dropped it) is built again.
    drop(url, current[0])
    runs.append(shop.runpytest_subprocess("-p", "no:cacheprovider"))

    for run in runs:
        run.assert_outcomes(passed=1)
    # Sessions 1, 3 and 5 migrated; sessions 2 and 4 cloned.
    assert marker.read_text() == "ran\nran\nran\n"
    assert len(templates_before) == 1
    assert len(both) == 2 and set(templates_before) < set(both)
    assert len(current) == 1 and current != templates_before  # the aged one dropped
    assert templates(url) == current
    assert test_databases(url) == []  # each session dropped its own


def age(url: sa.URL, name: str, *, hours: float) -> None:
    """Make the template ``name`` look last used ``hours`` ago."""
    used = int(time.time() - hours * 3600)
    comment = f"COMMENT ON DATABASE {name} IS 'manage test template, last used at {used}'"
    server(url, comment)


def drop(url: sa.URL, name: str) -> None:
    server(url, f"DROP DATABASE {name}")


def server(url: sa.URL, statement: str) -> None:
    engine = sa.create_engine(
        url.set(database="postgres"), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as connection:
        connection.exec_driver_sql(statement)
    engine.dispose()


def templates(url: sa.URL) -> list[str]:
    return databases(url, f"{url.database}_tpl_")


def test_databases(url: sa.URL) -> list[str]:
    return databases(url, f"test_{url.database}_")


test_databases.__test__ = False  # type: ignore[attr-defined]


def databases(url: sa.URL, prefix: str) -> list[str]:
    engine = sa.create_engine(url.set(database="postgres"), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        names = connection.exec_driver_sql("SELECT datname FROM pg_database").scalars()
        found = sorted(n for n in names if n.startswith(prefix))
    engine.dispose()
    return found


def test_conftest_can_override_manage_settings(shop: pytest.Pytester) -> None:
    shop.makeconftest(
        """
        import dataclasses

        import pytest


        @pytest.fixture(scope="session")
        def manage_settings(pytestconfig):
            from manage import load_settings

            settings = load_settings(cwd=pytestconfig.rootpath)
            return dataclasses.replace(settings, version_table="shop_version")
        """
    )

    result = shop.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)


def test_the_plugin_is_inert_outside_a_manage_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="def test_plain():\n    pass\n\n"
        "def test_wants_a_database(migrated_database):\n    pass\n"
    )

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*manage: No [[]tool.manage[]] table in a pyproject.toml in*"])


def test_built_in_tests_use_the_overridden_manage_settings(shop: pytest.Pytester) -> None:
    (shop.path / "migrations").rename(shop.path / "kept_migrations")
    shop.makeconftest(
        """
        import dataclasses

        import pytest


        @pytest.fixture(scope="session")
        def manage_settings(pytestconfig):
            from manage import load_settings

            settings = load_settings(cwd=pytestconfig.rootpath)
            kept = pytestconfig.rootpath / "kept_migrations"
            return dataclasses.replace(settings, migrations_dir=kept)
        """
    )

    result = shop.runpytest_subprocess("--manage-migrations", "-v", "-p", "no:cacheprovider")

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines([f"{line}*" for line in BUILT_IN])
