"""``python -m manage``."""

from manage.cli import main

main()
