"""The ``manage`` command line: parses options, calls manage.commands, prints, sets exit codes.

``app.py`` holds the Typer commands, ``group.py`` the group and every Typer internal touched,
``group.py`` also holds the one error boundary (``ManageGroup.invoke``), ``output.py`` the
printing of errors and results, ``prompts.py`` the questions asked.
"""

from manage.cli.app import app, main
from manage.cli.group import ManageGroup
from manage.cli.output import CliState, report, report_error

__all__ = ["CliState", "ManageGroup", "app", "main", "report", "report_error"]
