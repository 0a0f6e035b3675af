"""Services of manage: settings, models, databases, Alembic. They never print, prompt or exit.

Private: its modules change without notice. The Python API is ``manage`` (``call_command``,
``Settings``, ``load_settings``, ``command``, ``Context``) and ``manage.commands`` (each command
function and every type its results hold).
"""
