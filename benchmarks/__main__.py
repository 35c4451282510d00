"""Run every benchmark in turn (each in its own process); exit 1 if any bar failed, 2 if one crashed."""

from __future__ import annotations

import subprocess
import sys

from . import BENCHMARKS


def main(argv: list[str]) -> int:
    """`python -m benchmarks [NAME ...] [-- ARGS]`: the named benchmarks (default all), ARGS passed on."""
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    worst = 0
    for name in names:
        print(f"== {name}", flush=True)
        rc = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", *extra]).returncode
        worst = max(worst, rc if rc in (0, 1) else 2)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
