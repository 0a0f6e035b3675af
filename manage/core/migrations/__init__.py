"""Alembic driven from code instead of alembic.ini and env.py: load, run and write migrations."""
