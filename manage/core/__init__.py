"""Services of manage: settings, models, databases, Alembic. They never print, prompt or exit."""
