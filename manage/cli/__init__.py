"""The ``manage`` command line: parses options, calls manage.commands, prints, sets exit codes.

``app.py`` holds the Typer commands, ``group.py`` the group and every Typer internal touched,
``output.py`` the one error boundary and the printing, ``prompts.py`` the questions asked.
"""

from manage.cli.app import app, main
from manage.cli.group import ManageGroup
from manage.cli.output import CliState, report_error, reporting

__all__ = ["CliState", "ManageGroup", "app", "main", "report_error", "reporting"]
