"""``manage lint``: its lines, --format json, exit codes, allow comments, bad input; and the
findings makemigrations, migrate --plan and check show (PostgreSQL)."""

from __future__ import annotations

import json

from tests.conftest import Project

ADD_INDEX = '''
"""Add an index."""
from alembic import op

revision = "0002_index"
down_revision = "0001_initial"


def upgrade():
    op.create_index("ix_book_title", "book", ["title"])
    op.drop_column("book", "author_id")  # manage: allow M301


def downgrade():
    pass
'''
M101 = (
    "migrations/0002_index.py:9: M101 require-concurrent-index-creation: CREATE INDEX "
    "ix_book_title ON book: takes a SHARE lock on the table: every write waits for the whole "
    "index build. Fix: create it with postgresql_concurrently=True inside `with "
    "op.get_context().autocommit_block():`."
)


def _project(make_project: object) -> Project:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    result = project.run("makemigrations")
    assert result.exit_code == 0, result.output
    project.write("migrations/0002_index.py", ADD_INDEX)
    return project


def test_lint_lines_and_exit_1(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("lint")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        M101,
        "1 finding in 1 of 2 migrations on postgresql (1 allowed by a comment).",
    ]


def test_lint_clean_exits_0(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("lint", "0001")
    assert result.exit_code == 0, result.output
    assert result.stdout == "No findings in 1 migration on postgresql.\n"
    project.edit("migrations/0002_index.py", '["title"])', '["title"])  # manage: allow M101')
    result = project.run("lint", "0001:")
    assert result.exit_code == 0, result.output
    assert result.stdout == "No findings in 1 migration on postgresql (2 allowed by a comment).\n"


def test_lint_json(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("lint", "--format", "json", "head")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["dialect"] == "postgresql"
    assert data["migrations"] == [{"revision": "0002_index", "path": "migrations/0002_index.py",
                                   "findings": 1, "suppressed": 1, "unread": None}]  # fmt: skip
    (finding,) = data["findings"]
    assert finding["rule"] == "M101"
    assert finding["name"] == "require-concurrent-index-creation"
    assert finding["group"] == "lock"
    assert finding["line"] == 9
    assert finding["path"] == "migrations/0002_index.py"
    assert M101.endswith(finding["message"])


def test_lint_unknown_revision_is_one_message_exit_3(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("lint", "0009")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("Error: Unknown migration '0009'.")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_lint_bad_format_and_zero_are_usage_errors(make_project: object) -> None:
    project = _project(make_project)
    assert project.run("lint", "--format", "xml").exit_code == 2
    result = project.run("lint", "zero")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: lint reads migrations; 'zero' is none.")


def test_lint_unapplied(make_project: object) -> None:
    project = _project(make_project)
    assert project.run("migrate", "0001").exit_code == 0
    result = project.run("lint", "--unapplied")
    assert result.stdout.splitlines()[-1].startswith("1 finding in 1 of 1 migration ")
    assert project.run("lint", "--unapplied", "0001").exit_code == 2


def test_migrate_plan_shows_findings(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("migrate", "--plan")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = lines.index("  Apply 0002_index")
    assert lines[at + 1 : at + 3] == [
        "    ! Drop column book.author_id (destructive: data in it is lost)",
        "    ~ line 9: " + M101.split(":9: ", 1)[1],
    ]
    assert project.tables() == set()  # a plan runs nothing


def test_check_warns_and_passes(make_project: object) -> None:
    project = _project(make_project)
    result = project.run("check")
    assert "[WARN] migrations lint: 1 finding in 0002_index (run 'manage lint')" in result.stdout
    assert (
        "         0002_index: M101 require-concurrent-index-creation: CREATE INDEX "
        "ix_book_title ON book"
    ) in result.stdout


def test_makemigrations_warns_about_the_file_it_wrote(make_project: object) -> None:
    project: Project = make_project("postgresql")  # type: ignore[operator]
    assert project.run("makemigrations").exit_code == 0
    project.edit("shop/models.py", "    title: Mapped[str] = mapped_column(String(200))\n", "")
    result = project.run("makemigrations")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[-1]
        == "  ! Drop column book.title (destructive: data in it is lost)"
    )
    lines = result.stderr.splitlines()  # diagnostics about the file written
    written = (project.root / "migrations/0002_remove_book_title.py").read_text().splitlines()
    line = next(n for n, text in enumerate(written, 1) if "op.drop_column(" in text)
    assert lines == [
        f"  ~ line {line}: M301 ban-drop-column: ALTER TABLE book DROP COLUMN title: the previous "
        "release, still serving while the migration runs, names the column in its SELECTs and "
        "INSERTs, which fail from then on. Fix: release code that no longer reads or writes it "
        "first, then do this in the next release and mark the line `# manage: allow M301`.",
        "  Review it with 'manage lint 0002_remove_book_title'; a comment '# manage: allow "
        "RULE' on the line accepts a finding.",
    ]


NEEDS_ROWS = '''
"""Needs rows."""
import sqlalchemy as sa
from alembic import op

revision = "0003_rows"
down_revision = "0002_index"


def upgrade():
    for (book_id,) in op.get_bind().execute(sa.text("SELECT id FROM book")).fetchall():
        op.execute(f"UPDATE book SET title = 'x' WHERE id = {book_id}")


def downgrade():
    pass
'''


def test_lint_says_when_it_read_a_migration_only_in_part(make_project: object) -> None:
    project = _project(make_project)
    project.write("migrations/0003_rows.py", NEEDS_ROWS)
    result = project.run("lint", "0003")
    assert result.exit_code == 0, result.output
    assert result.stdout == "No findings in 1 migration on postgresql.\n"
    assert result.stderr.startswith(
        "0003_rows: read only until its upgrade() stopped without a database (its upgrade() raised "
    )
