"""``python -m manage``."""

from manage.launcher import main

main()
