"""The lint rules: a stable id, squawk's or strong_migrations' name, where each applies, and
one line each: what locks what, for how long, and the safe rewrite (docs/commands/lint.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Group = Literal["lock", "fails", "compat", "advice", "mysql"]
"""``advice`` rules are reported with ``--advice`` only (M2xx, and M112: a failed concurrent build
is recovered by dropping the INVALID index, nothing locks)."""

POSTGRESQL = frozenset({"postgresql"})
MYSQL = frozenset({"mysql", "mariadb"})
SERVERS = frozenset({"postgresql", "mysql", "mariadb", "mssql", "oracle"})
"""Every dialect but SQLite: a SQLite database is one file that ``ALTER`` (batch mode: copy the
table, swap it in) rewrites under the database's one write lock whatever the form, and its
applications are migrated stopped, so no rule has a safer form to propose there."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One lint rule."""

    id: str
    name: str
    group: Group
    dialects: frozenset[str]
    risk: str
    """What the operation locks, for how long, or what it breaks."""
    fix: str
    """The safe rewrite."""


_CONCURRENT_BLOCK = "inside `with op.get_context().autocommit_block():`"
_LATER = "in a later transaction (an autocommit_block() or the next migration)"
_RELEASE = (
    "release code that no longer reads or writes it first, then do this in the next release "
    "and mark the line `# manage: allow {id}`"
)

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("M101", "require-concurrent-index-creation", "lock", POSTGRESQL,
             "takes a SHARE lock on the table: every write waits for the whole index build",
             f"create it with postgresql_concurrently=True {_CONCURRENT_BLOCK}"),
        Rule("M102", "require-concurrent-index-deletion", "lock", POSTGRESQL,
             "takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait until the "
             "drop ends, and the drop waits for every running query on the table",
             f"drop it with postgresql_concurrently=True {_CONCURRENT_BLOCK}"),
        Rule("M103", "ban-concurrent-index-creation-in-transaction", "fails", POSTGRESQL,
             "runs inside the migration's transaction, where PostgreSQL refuses CONCURRENTLY "
             "(the migration fails)",
             f"move it {_CONCURRENT_BLOCK}"),
        Rule("M104", "adding-foreign-key-constraint", "lock", POSTGRESQL,
             "takes a SHARE ROW EXCLUSIVE lock on the table and the referenced table: writes "
             "to both wait while every row is checked",
             f"add it NOT VALID (postgresql_not_valid=True), then VALIDATE CONSTRAINT {_LATER}"),
        Rule("M105", "constraint-missing-not-valid", "lock", POSTGRESQL,
             "takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait while every "
             "row is checked",
             f"add it NOT VALID (postgresql_not_valid=True), then VALIDATE CONSTRAINT {_LATER}"),
        Rule("M106", "validate-in-same-transaction", "lock", POSTGRESQL,
             "runs in the transaction that added the constraint NOT VALID, which still holds "
             "that lock: the scan blocks writes as if NOT VALID were not there",
             f"validate it {_LATER}"),
        Rule("M107", "setting-not-nullable-field", "lock", POSTGRESQL,
             "takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait while every "
             "row is scanned",
             "first add CHECK (column IS NOT NULL) NOT VALID and VALIDATE it in a later "
             "transaction; PostgreSQL 12+ then sets NOT NULL without the scan"),
        Rule("M108", "adding-field-with-default", "lock", POSTGRESQL,
             "has a volatile default (or is generated/serial): the table is rewritten under an "
             "ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite",
             "add the column without that default, set the default in a second statement (it "
             "applies to new rows only), and backfill the existing rows in batches"),
        Rule("M109", "changing-column-type", "lock", POSTGRESQL,
             "takes an ACCESS EXCLUSIVE lock and rewrites the table and its indexes: reads and "
             "writes wait for the whole rewrite, and clients reading the column may break",
             "add a column of the new type, backfill it in batches, move the code over, drop "
             "the old one (a longer VARCHAR, or VARCHAR to TEXT, needs no rewrite)"),
        Rule("M110", "disallowed-unique-constraint", "lock", POSTGRESQL,
             "builds its index under a lock that blocks writes to the table (ACCESS EXCLUSIVE "
             "for the constraint) for the whole build",
             f"CREATE UNIQUE INDEX CONCURRENTLY {_CONCURRENT_BLOCK}, then ADD CONSTRAINT ... "
             "UNIQUE USING INDEX"),
        Rule("M111", "adding-serial-primary-key-field", "lock", POSTGRESQL,
             "builds the primary key's index under an ACCESS EXCLUSIVE lock on the table: reads "
             "and writes wait for the whole build",
             f"CREATE UNIQUE INDEX CONCURRENTLY {_CONCURRENT_BLOCK}, then ADD CONSTRAINT ... "
             "PRIMARY KEY USING INDEX"),
        Rule("M112", "prefer-robust-stmts", "advice", POSTGRESQL,
             "runs outside a transaction: if it fails it leaves an INVALID index behind, on "
             "whose name a second run fails unless manage migrate (ddl_lock_timeout above 0) "
             "drops it first",
             "add if_not_exists=True to create_index (if_exists=True to drop_index)"),
        Rule("M113", "transaction-nesting", "fails", SERVERS,
             "ends or starts a transaction inside the migration's own: what follows runs "
             "outside it, so a failure leaves the migration half applied",
             f"put statements that must run outside a transaction {_CONCURRENT_BLOCK}"),
        Rule("M114", "ban-drop-database", "fails", SERVERS,
             "drops a whole database from a migration",
             "drop databases by hand, never from a migration"),
        Rule("M201", "ban-char-field", "advice", POSTGRESQL,
             "is CHAR(n), which pads values with spaces",
             "use TEXT or VARCHAR"),
        Rule("M202", "prefer-bigint-over-int", "advice", POSTGRESQL,
             "is a 32-bit (or 16-bit) integer; changing it later rewrites the table under an "
             "ACCESS EXCLUSIVE lock",
             "use BIGINT (sa.BigInteger)"),
        Rule("M203", "prefer-text-field", "advice", POSTGRESQL,
             "is VARCHAR(n); changing n later takes an ACCESS EXCLUSIVE lock",
             "use TEXT with a CHECK (length(column) <= n) constraint"),
        Rule("M204", "prefer-timestamptz", "advice", POSTGRESQL,
             "is TIMESTAMP WITHOUT TIME ZONE, which drops the UTC offset",
             "use sa.DateTime(timezone=True) (TIMESTAMPTZ)"),
        Rule("M205", "prefer-identity", "advice", POSTGRESQL,
             "is SERIAL, whose sequence has its own owner, grants and dump order",
             "use sa.Identity() (GENERATED BY DEFAULT AS IDENTITY)"),
        Rule("M206", "prefer-jsonb", "advice", POSTGRESQL,
             "is JSON, which has no equality operator (DISTINCT, UNION and GROUP BY on the "
             "table fail) and is parsed again on every read",
             "use JSONB (sa.dialects.postgresql.JSONB)"),
        Rule("M301", "ban-drop-column", "compat", SERVERS,
             "the previous release, still serving while the migration runs, names the column "
             "in its SELECTs and INSERTs, which fail from then on",
             _RELEASE.format(id="M301")),
        Rule("M302", "ban-drop-table", "compat", SERVERS,
             "the previous release, still serving while the migration runs, reads and writes "
             "the table, which fails from then on",
             _RELEASE.format(id="M302")),
        Rule("M303", "renaming-column", "compat", SERVERS,
             "the previous release reads and writes the old name, which fails as soon as the "
             "rename commits",
             "add the new column, write both, backfill, move reads over, drop the old one in a "
             "later release"),
        Rule("M304", "renaming-table", "compat", SERVERS,
             "the previous release reads and writes the old name, which fails as soon as the "
             "rename commits",
             "create the new table (or a view under the old name), move the code over, drop "
             "the old one in a later release"),
        Rule("M305", "adding-required-field", "compat", SERVERS,
             "is NOT NULL without a default: it fails on a table with rows, and the previous "
             "release's INSERTs, which leave it out, fail",
             "add it nullable (or with a constant server default), backfill, then set NOT NULL"),
        Rule("M306", "ban-drop-not-null", "compat", SERVERS,
             "lets NULL in where the previous release may assume there is none",
             "make sure every release reading the column copes with NULL, then mark the line "
             "`# manage: allow M306`"),
        Rule("M307", "ban-drop-constraint", "compat", SERVERS,
             "removes a guarantee (unique, foreign key, check) that the previous release may "
             "rely on",
             "make sure no release relies on it, then mark the line `# manage: allow M307`"),
        Rule("M401", "mysql-online-ddl", "mysql", MYSQL,
             "names no ALGORITHM/LOCK: where the server cannot change the table in place it "
             "silently copies it, blocking writes for the whole copy",
             "add ALGORITHM=INPLACE, LOCK=NONE (ALGORITHM=INSTANT for a column) so the server "
             "refuses instead of locking"),
        Rule("M402", "mysql-column-type-change", "mysql", MYSQL,
             "changes the column's type: MySQL/MariaDB copy the table (ALGORITHM=COPY), "
             "blocking writes for the whole copy",
             "add a column of the new type, backfill it in batches, move the code over, drop "
             "the old one (or use gh-ost / pt-online-schema-change)"),
        Rule("M403", "mysql-foreign-key", "mysql", MYSQL,
             "copies the table (ALGORITHM=COPY) while foreign_key_checks is on, blocking writes "
             "for the whole copy",
             "check the rows yourself, then add it with SET foreign_key_checks=0 and "
             "ALGORITHM=INPLACE, LOCK=NONE (or use an online schema change tool)"),
    )
}  # fmt: skip
"""Every rule, by id."""

BY_NAME = {rule.name: rule for rule in RULES.values()}


def find_rule(key: str) -> Rule | None:
    """The rule named ``key``: its id (``M101``, any case) or its name."""
    return RULES.get(key.upper()) or BY_NAME.get(key.lower())
