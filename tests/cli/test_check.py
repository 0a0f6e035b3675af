"""check: one line per check, [SKIP] after a failed dependency, exit 1 for any failure, never 3."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy.engine import make_url

from manage import load_settings
from manage.commands import check
from tests.conftest import Project

TITLE = "    title: Mapped[str] = mapped_column(String(200))\n"
PRICE = TITLE + "    price: Mapped[int | None]\n"
PASSWORD = "s3cret"
NO_ISSUES = "System check identified no issues."


def head_lines(project: Project, files: str = "1 file, consistent") -> list[str]:
    """The settings, models and history lines of a healthy shop project."""
    return [
        f"[OK]   settings: {project.root}/pyproject.toml",
        "[OK]   models import: shop.models:Base (2 tables)",
        f"[OK]   migration files: {files}",
    ]


def shown_url(project: Project) -> str:
    """The database URL as check must show it: the password masked."""
    return project.url_in_effect.replace(f":{PASSWORD}@", ":***@")


def with_password(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL (trust authentication ignores it), put a password in DATABASE_URL."""
    if project.dialect == "postgresql":
        in_effect = make_url(project.url_in_effect).set(password=PASSWORD)
        url = make_url(project.database_url).set(password=PASSWORD)
        project.database_url = url.render_as_string(hide_password=False)
        monkeypatch.setenv("DATABASE_URL", in_effect.render_as_string(hide_password=False))


def migrated(project: Project) -> Project:
    assert project.run("makemigrations").exit_code == 0
    assert project.run("migrate").exit_code == 0
    return project


def test_a_migrated_project_passes_every_check(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_password(project, monkeypatch)
    migrated(project)

    without = project.run("check")
    result = project.run("check", "--database")

    assert without.exit_code == 0, without.output
    assert without.stdout.splitlines() == [
        *head_lines(project),
        "[OK]   one head: 0001_initial",
        "[OK]   models in sync with migrations: no changes detected",
        NO_ISSUES,
    ]
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        *head_lines(project),
        "[OK]   one head: 0001_initial",
        "[OK]   models in sync with migrations: no changes detected",
        f"[OK]   database reachable: {shown_url(project)}",
        "[OK]   database at head: at 0001_initial",
        NO_ISSUES,
    ]
    assert result.stderr == ""
    assert PASSWORD not in result.output


def test_a_model_change_without_a_migration_fails_and_lists_it(project: Project) -> None:
    migrated(project)
    project.edit("shop/models.py", TITLE, PRICE)
    before = project.files()

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        *head_lines(project),
        "[OK]   one head: 0001_initial",
        "[FAIL] models in sync with migrations: 1 change without a migration "
        "(run 'manage makemigrations')",
        "         + Add column price to book",
        f"[OK]   database reachable: {shown_url(project)}",
        "[OK]   database at head: at 0001_initial",
        "System check identified 1 issue.",
    ]
    assert result.stderr == ""
    assert project.files() == before, "check writes nothing"


def test_a_project_without_migrations_lists_the_initial_operations(
    sqlite_project: Project,
) -> None:
    result = sqlite_project.run("check")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        *head_lines(sqlite_project, files="(no migrations)"),
        "[OK]   one head: (no migrations)",
        "[FAIL] models in sync with migrations: 2 changes without a migration "
        "(run 'manage makemigrations')",
        "         + Create table author",
        "         + Create table book",
        "System check identified 1 issue.",
    ]
    assert sqlite_project.migrations() == []


def test_unapplied_migrations_fail_only_the_database_check(project: Project) -> None:
    migrated(project)
    project.edit("shop/models.py", TITLE, PRICE)
    assert project.run("makemigrations").exit_code == 0

    without = project.run("check")
    behind = project.run("check", "--database")
    project.run("migrate", "zero")
    empty = project.run("check", "--database")

    assert without.exit_code == 0, without.output
    assert behind.exit_code == 1, behind.output
    healthy = [
        *head_lines(project, files="2 files, consistent"),
        "[OK]   one head: 0002_add_book_price",
        "[OK]   models in sync with migrations: no changes detected",
        f"[OK]   database reachable: {shown_url(project)}",
    ]
    # MariaDB: an added column that names no ALGORITHM/LOCK (a lint warning, which passes);
    # makemigrations' safe forms set alter_algorithm = 'INSTANT' first (the safeops branch)
    written = (project.root / "migrations/0002_add_book_price.py").read_text()
    plain = project.dialect == "mariadb" and "alter_algorithm" not in written
    lint = [
        "[WARN] migrations lint: 1 finding in 0002_add_book_price (run 'manage lint')",
        "         0002_add_book_price: M401 mysql-online-ddl: ALTER TABLE book ADD COLUMN price",
    ] if plain else []  # fmt: skip
    assert behind.stdout.splitlines() == [
        *healthy,
        "[FAIL] database at head: at 0001_initial, 1 unapplied (run 'manage migrate')",
        *lint,
        "System check identified 1 issue.",
    ]
    assert empty.exit_code == 1, empty.output
    assert empty.stdout.splitlines()[4:] == [
        *healthy[4:],
        "[FAIL] database at head: no migrations applied, 2 unapplied (run 'manage migrate')",
        *lint,
        "System check identified 1 issue.",
    ]
    assert project.version() == set(), "check applies nothing"


def test_a_sqlite_database_not_created_yet_is_reachable_but_not_at_head(
    sqlite_project: Project,
) -> None:
    sqlite_project.run("makemigrations")

    result = sqlite_project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[5:] == [
        f"[OK]   database reachable: {sqlite_project.database_url} (no file yet)",
        "[FAIL] database at head: no migrations applied, 1 unapplied (run 'manage migrate')",
        "System check identified 1 issue.",
    ]
    assert not sqlite_project.database_exists(), "check must not create the database"


def test_an_unreachable_database_fails_and_skips_the_head_check(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.run("makemigrations")
    if project.dialect == "sqlite":
        url = f"sqlite:///{project.root}/missing/db.sqlite3"
        reachable = (
            f"[FAIL] database reachable: {url}: the folder {project.root}/missing does not "
            "exist. Create it, or fix database_url (or DATABASE_URL)."
        )
    else:
        parsed = make_url(project.database_url).set(database="manage_no_such_database")
        if project.dialect == "postgresql":
            parsed = parsed.set(password=PASSWORD)
        url = parsed.render_as_string(hide_password=False)
        shown = url.replace(f":{PASSWORD}@", ":***@")
        reachable = f"[FAIL] database reachable: Could not connect to the database at {shown}: "
    monkeypatch.setenv("DATABASE_URL", url)

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [*head_lines(project), "[OK]   one head: 0001_initial"]
    assert lines[-3].startswith(reachable), lines[-3]
    assert lines[-3].endswith(".")
    # On a server, the shadow database of the sync check may need the server too: it may fail.
    failed = sum(line.startswith("[FAIL]") for line in lines)
    assert lines[-2:] == [
        "[SKIP] database at head: database not reachable",
        "System check identified 1 issue."
        if failed == 1
        else f"System check identified {failed} issues.",
    ]
    assert result.stderr == ""
    assert PASSWORD not in result.output


def test_settings_that_do_not_load_fail_and_skip_everything_else(sqlite_project: Project) -> None:
    (sqlite_project.root / "pyproject.toml").write_text('[project]\nname = "shop"\n')

    result = sqlite_project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"[FAIL] settings: No [tool.manage] table in a pyproject.toml in '{sqlite_project.root}' "
        'or any parent folder. Add one with models = "yourpackage.models:Base", '
        "or pass --settings with a settings module.",
        "[SKIP] models import: settings did not load",
        "[SKIP] migration files: settings did not load",
        "[SKIP] one head: settings did not load",
        "[SKIP] models in sync with migrations: settings did not load",
        "[SKIP] database reachable: settings did not load",
        "[SKIP] database at head: settings did not load",
        "System check identified 1 issue.",
    ]
    assert result.stderr == ""


def test_models_that_do_not_import_fail_and_skip_the_sync_check(project: Project) -> None:
    migrated(project)
    project.edit("pyproject.toml", '"shop.models:Base"', '"shop.missing:Base"')

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"[OK]   settings: {project.root}/pyproject.toml",
        "[FAIL] models import: Could not import models 'shop.missing': there is no module named "
        "'shop.missing'. Check the name in your settings and that the module is in the project "
        "folder.",
        "[OK]   migration files: 1 file, consistent",
        "[OK]   one head: 0001_initial",
        "[SKIP] models in sync with migrations: models did not import",
        f"[OK]   database reachable: {shown_url(project)}",
        "[OK]   database at head: at 0001_initial",
        "System check identified 1 issue.",
    ]


DANGLING = '''
"""Points at a migration that does not exist."""

revision = "0002_dangling"
down_revision = "0001_initail"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (
            "duplicate",
            "Two migration files have the revision id '0001_initial': migrations/0001_copy.py and "
            "migrations/0001_initial.py. Give one of them a new revision id (and fix the "
            "down_revision that points at it), or delete the copy.",
        ),
        (
            "dangling",
            "Migration migrations/0002_dangling.py has down_revision = '0001_initail', but no "
            "migration has that id (did you mean '0001_initial'?). Point down_revision at an "
            "existing migration.",
        ),
    ],
)
def test_inconsistent_migration_files_fail_and_skip_what_needs_the_history(
    project: Project, broken: str, problem: str
) -> None:
    migrated(project)
    if broken == "duplicate":
        folder = project.root / "migrations"
        shutil.copy(folder / "0001_initial.py", folder / "0001_copy.py")
    else:
        project.write("migrations/0002_dangling.py", DANGLING)

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"[OK]   settings: {project.root}/pyproject.toml",
        "[OK]   models import: shop.models:Base (2 tables)",
        f"[FAIL] migration files: {problem}",
        "[SKIP] one head: migration files are inconsistent",
        "[SKIP] models in sync with migrations: migration files are inconsistent",
        f"[OK]   database reachable: {shown_url(project)}",
        "[SKIP] database at head: migration files are inconsistent",
        "System check identified 1 issue.",
    ]
    assert result.stderr == ""


def test_several_heads_fail_and_skip_what_needs_one_head(project: Project) -> None:
    migrated(project)
    project.run("makemigrations", "--empty", "-n", "branch_a")
    folder = project.root / "migrations"
    (folder / "0002_branch_b.py").write_text(
        (folder / "0002_branch_a.py").read_text().replace("0002_branch_a", "0002_branch_b")
    )

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        *head_lines(project, files="3 files, consistent"),
        "[FAIL] one head: 2 heads: 0002_branch_a, 0002_branch_b "
        "(run 'manage makemigrations --merge')",
        "[SKIP] models in sync with migrations: several heads",
        f"[OK]   database reachable: {shown_url(project)}",
        "[SKIP] database at head: several heads",
        "System check identified 1 issue.",
    ]


def test_a_revision_recorded_in_the_database_but_missing_on_disk_fails_the_head_check(
    project: Project,
) -> None:
    migrated(project)
    models = (project.root / "shop/models.py").read_text()
    project.edit("shop/models.py", TITLE, PRICE)
    project.run("makemigrations")
    project.run("migrate")
    (project.root / "migrations/0002_add_book_price.py").unlink()
    (project.root / "shop/models.py").write_text(models)

    result = project.run("check", "--database")

    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[3:5] == [
        "[OK]   one head: 0001_initial",
        "[OK]   models in sync with migrations: no changes detected",
    ]
    assert lines[-2].startswith(
        "[FAIL] database at head: The database is at revision '0002_add_book_price', which is "
        "not in migrations/."
    ), lines[-2]
    assert lines[-1] == "System check identified 1 issue."


def test_check_from_python_returns_each_outcome(sqlite_project: Project) -> None:
    migrated(sqlite_project)

    result = check(load_settings, database=True)

    assert result.ok
    assert [(item.name, item.status) for item in result.checks] == [
        ("settings", "ok"),
        ("models import", "ok"),
        ("migration files", "ok"),
        ("one head", "ok"),
        ("models in sync with migrations", "ok"),
        ("database reachable", "ok"),
        ("database at head", "ok"),
    ]
    assert result["one head"].detail == "0001_initial"
    assert result.failed == ()
