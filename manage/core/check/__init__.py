"""The commit guard: every tier of ``makemigrations --check``."""
