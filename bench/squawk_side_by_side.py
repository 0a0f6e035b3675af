"""squawk and ``manage lint`` side by side on PostgreSQL (issue 14): for each model change of a
corpus, the migration ``manage makemigrations`` writes and the one plain Alembic autogenerates,
their SQL (``manage sqlmigrate`` / ``alembic upgrade --sql``) linted by squawk, and the migration
files linted by ``manage lint --advice``. A benchmark, not a test.

For each finding squawk reports, the table says whether ``manage lint`` reports the rule that
covers it on the same migration (``SQUAWK_TO_MANAGE``). squawk's ``require-lock-timeout`` and
``require-statement-timeout`` are met by ``manage migrate`` itself, which sets lock_timeout per
statement (issue 14, point 3), so no lint rule asks for them.

Usage::

    export MANAGE_TEST_POSTGRESQL_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/squawk_side_by_side.py [--cases add_index,add_fk] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import servers  # noqa: E402  # bench/servers.py

SQUAWK_TO_MANAGE = {
    "require-concurrent-index-creation": {"M101"},
    "require-concurrent-index-deletion": {"M102"},
    "ban-concurrent-index-creation-in-transaction": {"M103"},
    "adding-foreign-key-constraint": {"M104"},
    # squawk asks NOT VALID of a UNIQUE too, which PostgreSQL has not: M110's rewrite is the fix
    "constraint-missing-not-valid": {"M104", "M105", "M110"},
    "adding-not-nullable-field": {"M107"},
    "adding-field-with-default": {"M108"},
    "changing-column-type": {"M109"},
    "disallowed-unique-constraint": {"M110"},
    "adding-serial-primary-key-field": {"M111"},
    "adding-primary-key-constraint": {"M111"},
    "prefer-robust-stmts": {"M112"},
    "transaction-nesting": {"M113"},
    "ban-drop-database": {"M114"},
    "ban-char-field": {"M201"},
    "prefer-bigint-over-int": {"M202"},
    "prefer-bigint-over-smallint": {"M202"},
    "prefer-text-field": {"M203"},
    "prefer-timestamp-tz": {"M204"},
    "prefer-identity": {"M205"},
    "ban-drop-column": {"M301"},
    "ban-drop-table": {"M302"},
    "renaming-column": {"M303"},
    "renaming-table": {"M304"},
    "adding-required-field": {"M305"},
    "ban-drop-not-null": {"M306"},
    "ban-drop-constraint": {"M307"},
}
BY_MIGRATE = {"require-lock-timeout", "require-statement-timeout"}
DELIBERATE = {
    "widen VARCHAR": "VARCHAR(100) to VARCHAR(200) changes only the catalog since PostgreSQL 9.2 "
    "(no rewrite, no scan); M109 still flags a type change read from SQL text, whose old type "
    "is unknown",
    "validate": "VALIDATE CONSTRAINT outside a transaction is safe to run again",
    "helper": "the dropped constraint is the helper CHECK (x IS NOT NULL) after SET NOT NULL",
}
"""squawk findings manage lint does not repeat, on purpose (docs/commands/lint.md)."""


def deliberate(case: str, rule: str, statement: str, sql: str) -> str | None:
    """Why manage lint does not report squawk's ``rule`` on ``statement``, or None."""
    if rule == "changing-column-type" and case == "widen VARCHAR":
        return "widen VARCHAR"
    if rule == "prefer-robust-stmts" and "VALIDATE CONSTRAINT" in statement:
        return "validate"
    dropped = re.search(r"DROP CONSTRAINT (\w+)", statement)
    if rule == "ban-drop-constraint" and dropped:
        helper = rf"ADD CONSTRAINT {dropped[1]} CHECK \(\w+ IS NOT NULL\)"
        return "helper" if re.search(helper, sql) else None
    return None


V1 = """
import uuid
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, String, Uuid, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Book(Base):
    __tablename__ = "book"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    title: Mapped[str | None] = mapped_column(String(100))
    pages: Mapped[int | None] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(100))
"""


@dataclass(frozen=True)
class Case:
    """One model change: the lines of ``V1``'s Book replaced, and makemigrations' answers."""

    name: str
    old: str
    new: str
    flags: tuple[str, ...] = ()


TITLE = "    title: Mapped[str | None] = mapped_column(String(100))\n"
PAGES = "    pages: Mapped[int | None] = mapped_column(Integer)\n"
AUTHOR = "    author_id: Mapped[int | None] = mapped_column(BigInteger)\n"
NOTE = "    note: Mapped[str | None] = mapped_column(String(100))\n"
CASES = [
    Case("add index", TITLE, TITLE.replace("(100))", "(100), index=True)")),
    Case("add foreign key", AUTHOR,
         AUTHOR.replace("(BigInteger)", '(BigInteger, ForeignKey("author.id"))')),
    Case("add NOT NULL column", NOTE,
         NOTE + "    isbn: Mapped[str] = mapped_column(String(20))\n",
         ("--default", "book.isbn=upper('unknown')")),
    Case("set NOT NULL", TITLE, "    title: Mapped[str] = mapped_column(String(100))\n"),
    Case("add unique constraint", TITLE, TITLE.replace("(100))", "(100), unique=True)")),
    Case("widen VARCHAR", TITLE, TITLE.replace("(100)", "(200)")),
    Case("widen INTEGER to BIGINT", PAGES, PAGES.replace("Integer", "BigInteger")),
    Case("add CHECK", PAGES,
         PAGES + '    __table_args__ = (CheckConstraint("pages > 0", name="ck_book_pages"),)\n'),
    Case("drop column", NOTE, ""),
    Case("rename column", NOTE, NOTE.replace("note:", "remark:"),
         ("--rename", "book.note=book.remark")),
    Case("add column with volatile default", NOTE,
         NOTE + "    token: Mapped[uuid.UUID | None] = mapped_column(Uuid, "
         'server_default=text("gen_random_uuid()"))\n'),
]  # fmt: skip


SAFE = """
with op.get_context().autocommit_block():
    op.create_index("ix_book_title", "book", ["title"], postgresql_concurrently=True,
                    if_not_exists=True)
op.create_foreign_key("fk_book_author", "book", "author", ["author_id"], ["id"],
                      postgresql_not_valid=True)
op.create_check_constraint("ck_book_pages", "book", "pages > 0", postgresql_not_valid=True)
op.create_check_constraint("ck_book_title_nn", "book", "title IS NOT NULL",
                           postgresql_not_valid=True)
with op.get_context().autocommit_block():
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT fk_book_author")
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT ck_book_pages")
    op.execute("ALTER TABLE book VALIDATE CONSTRAINT ck_book_title_nn")
op.alter_column("book", "title", nullable=False, existing_type=sa.String(100))
op.drop_constraint("ck_book_title_nn", "book", type_="check")
with op.get_context().autocommit_block():
    op.create_index("uq_book_note", "book", ["note"], unique=True,
                    postgresql_concurrently=True, if_not_exists=True)
op.execute("ALTER TABLE book ADD CONSTRAINT uq_book_note UNIQUE USING INDEX uq_book_note")
op.add_column("book", sa.Column("token", sa.Uuid()))
op.alter_column("book", "token", server_default=sa.text("gen_random_uuid()"))
op.add_column("book", sa.Column("isbn", sa.Text(), server_default="unknown", nullable=False))
"""
"""The safe forms issue 14 asks makemigrations to write (the safeops branch), by hand."""


@dataclass
class Outcome:
    squawk: list[str] = field(default_factory=list)
    excused: dict[int, str] = field(default_factory=dict)
    """Index in ``squawk`` -> key of ``DELIBERATE``."""
    lint: list[str] = field(default_factory=list)
    error: str = ""

    def missed(self) -> list[str]:
        """squawk's findings that no manage finding covers (but deliberate differences)."""
        return [
            rule for index, rule in enumerate(self.squawk)
            if rule not in BY_MIGRATE and index not in self.excused
            and not SQUAWK_TO_MANAGE.get(rule, set()) & set(self.lint)
        ]  # fmt: skip


def _run(args: list[str], cwd: Path, url: str, ok: tuple[int, ...] = (0,)) -> str:
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(args[:3])}: exit {done.returncode}: {done.stderr[-400:]}")
    return done.stdout


def _models(folder: Path, case: Case, version: int) -> None:
    text = V1 if version == 1 else V1.replace(case.old, case.new)
    (folder / "shop").mkdir(exist_ok=True)
    (folder / "shop/__init__.py").write_text("")
    (folder / "shop/models.py").write_text(textwrap.dedent(text))


def _squawk(sql: str, folder: Path, case: str, outcome: Outcome) -> None:
    path = folder / "migration.sql"
    path.write_text(sql)
    out = subprocess.run([str(BIN / "squawk"), "--reporter", "json", str(path)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    lines = sql.splitlines()
    found = sorted(json.loads(out.stdout or "[]"), key=lambda item: item["rule_name"])
    for index, item in enumerate(found):
        outcome.squawk.append(item["rule_name"])
        statement = lines[item["line"]] if item["line"] < len(lines) else ""
        if why := deliberate(case, item["rule_name"], statement, sql):
            outcome.excused[index] = why


def _lint(folder: Path, url: str, revision: str) -> list[str]:
    out = _run([str(BIN / "manage"), "lint", "--advice", "--format", "json", revision],
               folder, url, ok=(0, 1))  # fmt: skip
    return sorted(f["rule"] for f in json.loads(out)["findings"])


def with_manage(case: Case, base: str) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="bench-squawk-manage-"))
    (folder / "pyproject.toml").write_text('[tool.manage]\nmodels = "shop.models:Base"\n')
    outcome = Outcome()
    try:
        with servers.server_database(base, "bench_squawk") as url:
            manage = str(BIN / "manage")
            _models(folder, case, 1)
            _run([manage, "makemigrations", "--no-input"], folder, url)
            _models(folder, case, 2)
            _run([manage, "makemigrations", "--no-input", *case.flags], folder, url)
            revision = sorted(p.stem for p in (folder / "migrations").glob("0002_*.py"))[0]
            sql = _run([manage, "sqlmigrate", revision], folder, url)
            _squawk(sql, folder, case.name, outcome)
            outcome.lint = _lint(folder, url, revision)
    except Exception as exc:  # reported in the table
        outcome.error = str(exc)
    return outcome


def by_hand(base: str) -> Outcome:
    """``SAFE`` as migration 0002 of a manage project."""
    folder = Path(tempfile.mkdtemp(prefix="bench-squawk-safe-"))
    (folder / "pyproject.toml").write_text('[tool.manage]\nmodels = "shop.models:Base"\n')
    outcome = Outcome()
    try:
        with servers.server_database(base, "bench_squawk") as url:
            manage = str(BIN / "manage")
            _models(folder, CASES[0], 1)
            _run([manage, "makemigrations", "--no-input"], folder, url)
            body = textwrap.indent(SAFE.strip(), "    ")
            (folder / "migrations/0002_safe.py").write_text(
                'revision = "0002_safe"\ndown_revision = "0001_initial"\n'
                "import sqlalchemy as sa\nfrom alembic import op\n\n\n"
                f"def upgrade():\n{body}\n\n\ndef downgrade():\n    pass\n"
            )
            sql = _run([manage, "sqlmigrate", "0002"], folder, url)
            _squawk(sql, folder, "safe forms by hand", outcome)
            outcome.lint = _lint(folder, url, "0002")
            _run([manage, "migrate"], folder, url)  # the safe forms apply
    except Exception as exc:
        outcome.error = str(exc)
    return outcome


def with_alembic(case: Case, base: str) -> Outcome:
    folder = Path(tempfile.mkdtemp(prefix="bench-squawk-alembic-"))
    outcome = Outcome()
    alembic = str(BIN / "alembic")
    try:
        with servers.server_database(base, "bench_squawk") as url:
            _run([alembic, "init", "migrations"], folder, url)
            ini = folder / "alembic.ini"
            ini.write_text(
                ini.read_text().replace(
                    "sqlalchemy.url = driver://user:pass@localhost/dbname",
                    f"sqlalchemy.url = {url}",
                )
            )
            env = folder / "migrations/env.py"
            env.write_text(env.read_text().replace(
                "target_metadata = None",
                "from shop.models import Base\ntarget_metadata = Base.metadata"))  # fmt: skip
            _models(folder, case, 1)
            _run([alembic, "revision", "--autogenerate", "-m", "v1", "--rev-id", "a1"], folder, url)
            _run([alembic, "upgrade", "head"], folder, url)
            _models(folder, case, 2)
            _run([alembic, "revision", "--autogenerate", "-m", "v2", "--rev-id", "a2"], folder, url)
            sql = _run([alembic, "upgrade", "a1:a2", "--sql"], folder, url)
            _squawk(sql, folder, case.name, outcome)
            (folder / "pyproject.toml").write_text(
                '[tool.manage]\nmodels = "shop.models:Base"\nmigrations = "migrations/versions"\n'
            )
            outcome.lint = _lint(folder, url, "a2")
    except Exception as exc:
        outcome.error = str(exc)
    return outcome


def _cell(rules: list[str]) -> str:
    return ", ".join(f"`{r}`" for r in rules) or "none"


def _missed(outcome: Outcome) -> str:
    if outcome.error:
        return f"error: {outcome.error[:80]}"
    missed = outcome.missed()
    answer = "yes" if not missed else "**no**: " + ", ".join(missed)
    excused = {outcome.squawk[i]: why for i, why in outcome.excused.items()}
    for rule, why in excused.items():
        answer += f" (not `{rule}`: {DELIBERATE[why]})"
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    base = os.environ["MANAGE_TEST_POSTGRESQL_URL"]
    wanted = set(options.cases.split(",")) if options.cases else None
    lines = [
        "| change | tool writing the migration | squawk findings | `manage lint --advice` "
        "findings | lint covers every squawk finding |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        if wanted and case.name not in wanted:
            continue
        for label, run in (("Alembic autogenerate", with_alembic), ("manage makemigrations",
                                                                    with_manage)):  # fmt: skip
            outcome = run(case, base)
            row = (f"| {case.name} | {label} | {_cell(outcome.squawk)} | {_cell(outcome.lint)} "
                   f"| {_missed(outcome)} |")  # fmt: skip
            print(row, flush=True)
            lines.append(row)
    if not wanted or "safe forms by hand" in wanted:
        outcome = by_hand(base)
        row = (f"| safe forms by hand (all of the above) | by hand | {_cell(outcome.squawk)} | "
               f"{_cell(outcome.lint)} | {_missed(outcome)} |")  # fmt: skip
        print(row, flush=True)
        lines.append(row)
    if options.markdown:
        options.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
