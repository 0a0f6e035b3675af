"""Standard-library-only modules: importable without SQLAlchemy, Alembic or Typer (tested)."""
