"""Autogenerate: compare the models with the history (in memory or a shadow database)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import util as alembic_util
from alembic.autogenerate import RevisionContext
from alembic.operations import ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script.revision import ResolutionError
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from manage.core import revisions
from manage.core.compare_plugin import options_with, schema_options
from manage.core.defaults import enum_values_changed
from manage.core.discovery import IncludeObject
from manage.core.migrations.diagnostics import _sentence, _write_error
from manage.core.migrations.enums import (
    _enum_types,
    _enum_value_changes,
    render_enum_without_create,
)
from manage.core.migrations.executor import MigrationExecutor
from manage.core.migrations.ordering import _tables_first_and_last
from manage.core.migrations.types import Generated
from manage.core.runnable import make_runnable
from manage.core.safe_ddl import make_safe
from manage.core.settings import describe_exception
from manage.errors import (
    ManageError,
    MigrationError,
    MigrationStoppedError,
    comparing_failed,
)

if TYPE_CHECKING:
    from manage.core.questions import Questioner


class Autogenerator(MigrationExecutor):
    """Compare the models with the history and write migration files."""

    def compare_with_history(
        self,
        connection: Connection,
        metadata: MetaData | tuple[MetaData, ...],
        *,
        include_object: IncludeObject | None,
        name: str | None,
        write_to: Path | None,
        rollback: bool = False,
        questioner: Questioner | None = None,
    ) -> Generated:
        """Replay the history into the empty shadow database ``connection``, then compare.

        With ``rollback`` the replay and the comparison share one transaction that is rolled
        back, so the database is left exactly as it was (PostgreSQL and SQLite only).
        """
        head = self.single_head()
        if self._metadata is None:
            self._metadata = metadata
        if rollback:
            connection.begin()
        try:
            if head is not None:
                try:
                    self.run(connection, self.plan((), head), head, in_transaction=rollback)
                except MigrationStoppedError as exc:  # a throwaway database: just unwind
                    raise exc.stopped_by from None
                except MigrationError as exc:
                    raise MigrationError(
                        f"Replaying the migration history into a shadow database failed: {exc}"
                    ) from exc
            return self.autogenerate(
                connection,
                metadata,
                include_object=include_object,
                name=name,
                write_to=write_to,
                in_transaction=rollback,
                questioner=questioner,
            )
        finally:
            if connection.in_transaction():
                connection.rollback()

    def autogenerate(
        self,
        connection: Connection,
        metadata: MetaData | tuple[MetaData, ...],
        *,
        include_object: IncludeObject | None,
        name: str | None,
        write_to: Path | None,
        in_transaction: bool = False,
        questioner: Questioner | None = None,
    ) -> Generated:
        """Compare ``metadata`` with the schema in ``connection`` (the replayed history).

        With ``write_to`` the migration file is written there; without, nothing is written.
        """
        result: dict[str, Any] = {}
        initial = not self._scripts

        def process_revision_directives(
            _context: MigrationContext, _rev: Any, directives: list[ops.MigrationScript]
        ) -> None:
            script = directives[0]
            answers = []
            if questioner is not None and write_to is not None:
                from manage.core.questions import ask  # writing only: migrate does without

                answers = ask(script, questioner, connection.dialect)
            for container in (*script.upgrade_ops_list, *script.downgrade_ops_list):
                _tables_first_and_last(container)
                _enum_value_changes(container, connection.dialect.name)
                make_runnable(container, connection.dialect.name, metadata)  # issue 16
            operations: list[revisions.Operation] = []
            for upgrade_ops in script.upgrade_ops_list:
                operations.extend(revisions.describe(upgrade_ops))
            rev_id = None
            if operations:
                number = revisions.next_number(self.revision_ids())
                slug = name or revisions.suggest_name(operations, initial=initial)
                rev_id = revisions.revision_id(number, slug)
                script.rev_id = rev_id
                script.message = slug.replace("_", " ").capitalize() + "".join(
                    ["\n\nAnswers given to makemigrations:\n", *(f"- {a}\n" for a in answers)]
                    if answers
                    else []
                ).rstrip("\n")
                script.version_path = str(write_to) if write_to else None
            _enum_types(script, metadata, connection)
            if self.settings.safe_ddl:  # issue 14: what runs while the application writes
                mariadb = bool(getattr(connection.dialect, "is_mariadb", False))
                for container in (*script.upgrade_ops_list, *script.downgrade_ops_list):
                    make_safe(container, connection.dialect.name, mariadb=mariadb)
            result["operations"] = tuple(operations)
            result["rev_id"] = rev_id
            if not operations or write_to is None:
                directives[:] = []  # Alembic cookbook: don't generate empty migrations

        revision_context = RevisionContext(
            self.config,
            self.script,
            dict(
                message=None,
                autogenerate=True,
                sql=False,
                head="head",
                splice=False,
                branch_label=None,
                version_path=None,
                rev_id=None,
                depends_on=None,
            ),
        )

        def retrieve(rev: Any, context: MigrationContext) -> list[Any]:
            revision_context.run_autogenerate(rev, context)
            return []

        self._version_schema(connection)  # issue 16
        if connection.in_transaction() and not in_transaction:
            connection.commit()
        try:
            with EnvironmentContext(
                self.config,
                self.script,
                fn=retrieve,
                as_sql=False,
                template_args=revision_context.template_args,
                revision_context=revision_context,
            ) as env:
                env.configure(
                    connection=connection,
                    target_metadata=metadata,
                    **options_with(self.settings.autogenerate_plugins),  # compare_plugin.py
                    **schema_options(metadata, None),
                    compare_type=enum_values_changed,
                    include_object=include_object,
                    **self.configure_options(),
                    process_revision_directives=process_revision_directives,
                    render_item=render_enum_without_create,
                )
                with env.begin_transaction():
                    env.run_migrations()
            written = [s for s in revision_context.generate_scripts() if s is not None]
        except alembic_util.CommandError as exc:
            raise MigrationError(f"Could not write the migration: {_sentence(exc)}.") from exc
        except OSError as exc:
            raise _write_error(exc) from exc
        except ManageError:
            raise
        except Exception as exc:
            reason = _sentence(exc) if isinstance(exc, SQLAlchemyError) else describe_exception(exc)
            raise comparing_failed(reason) from exc
        finally:
            if connection.in_transaction() and not in_transaction:
                connection.rollback()
        return Generated(
            revision_id=result.get("rev_id"),
            operations=result.get("operations", ()),
            path=Path(written[0].path) if written else None,
        )

    def write_revision(
        self,
        name: str,
        *,
        heads: Sequence[str] | None = None,
        message: str | None = None,
        write_to: Path | None = None,
    ) -> Path:
        """Write an empty migration (``--empty``) or, with several ``heads``, a merge."""
        rev_id = revisions.revision_id(revisions.next_number(self.revision_ids()), name)
        try:
            script = self.script.generate_revision(
                rev_id,
                message or name.replace("_", " ").capitalize(),
                head=list(heads) if heads else "head",
                refresh=True,
                version_path=str(write_to or self.migrations_dir),
            )
        except (alembic_util.CommandError, ResolutionError) as exc:
            raise MigrationError(f"Could not write the migration: {_sentence(exc)}.") from exc
        except OSError as exc:
            raise _write_error(exc) from exc
        assert script is not None
        return Path(script.path)
