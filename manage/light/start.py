"""What the process found when it started: the moment, and DATABASE_URL before a .env is read."""

from __future__ import annotations

import os
import time

# When this process started, and DATABASE_URL as it found it (before a .env is read): what a
# remembered check answer is stamped against.
STARTED_NS = time.time_ns()
DATABASE_URL_AT_START = os.environ.get("DATABASE_URL")
