"""Check that generated migrations are exactly what ``manage makemigrations`` writes.

For each K: generate the project with the models as they stand after migration K, keep
migrations 1..K-1, run the real ``manage makemigrations``, and compare the file it writes with the
generated migration K (ignoring the create date and the time in ``auto_<timestamp>`` names).

Usage::

    .venv/bin/python bench/fidelity.py --tables 20 --migrations 20 --seeds 1,2,3 --at 1,2,5,20
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # the sibling script

_VOLATILE = [
    (re.compile(r"^Create Date: .*$", re.M), "Create Date: -"),
    (re.compile(r"auto_\d{8}_\d{4}"), "auto_TIMESTAMP"),
    (re.compile(r"Auto \d{8} \d{4}"), "Auto TIMESTAMP"),
]


def normalise(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def check(tables: int, migrations: int, seed: int, k: int, scratch: Path) -> str | None:
    """None when migration ``k`` matches what manage writes; otherwise the diff or the error."""
    out = scratch / f"s{seed}_k{k}"
    generate.generate(tables, migrations, seed, out, models_at=k)
    folder = out / "manage" / "migrations"
    files = sorted(folder.glob("*.py"))
    expected = files[k - 1]
    for later in files[k - 1 :]:
        later.rename(out / later.name)
    proc = subprocess.run(
        [str(generate.VENV_BIN / "manage"), "makemigrations"],
        cwd=out / "manage",
        env=dict(os.environ, XDG_CACHE_HOME=str(scratch / "cache")),
        capture_output=True,
        text=True,
        check=False,
    )
    written = sorted(folder.glob("*.py"))
    if proc.returncode != 0 or len(written) != k:
        return f"manage makemigrations exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    ours = normalise((out / expected.name).read_text()).splitlines(keepends=True)
    theirs = normalise(written[-1].read_text()).splitlines(keepends=True)
    if ours == theirs:
        shutil.rmtree(out)
        return None
    diff = difflib.unified_diff(ours, theirs, f"generated/{expected.name}", written[-1].name)
    return "".join(diff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--migrations", type=int, default=20)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated (default 1,2,3)")
    parser.add_argument(
        "--at", default="", help="migrations K to check, comma-separated (default: 1, 2, M/2, M)"
    )
    args = parser.parse_args(argv)
    m = args.migrations
    ks = [int(k) for k in args.at.split(",")] if args.at else sorted({1, min(2, m), m // 2 or 1, m})
    failures = 0
    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as scratch:
        for seed in (int(s) for s in args.seeds.split(",")):
            for k in ks:
                problem = check(args.tables, m, seed, k, Path(scratch))
                status = "identical" if problem is None else "DIFFERENT"
                print(f"seed {seed}, migration {k}/{m}: {status}")
                if problem:
                    failures += 1
                    print(problem)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
