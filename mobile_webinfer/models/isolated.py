"""Run one converter function in a fresh Python process (used for big models).

``python -m mobile_webinfer.models.isolated IN OUT``: IN holds a pickled
(module, function, args); OUT receives a pickled ("ok", result) or ("error", exception).
A plain subprocess, not multiprocessing's spawn: spawn re-runs the caller's main
script in the child, which deadlocks scripts that build models at top level.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ModelError


def call_isolated(fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
    """``fn(*args)`` in a child process; returns its result or raises its exception."""
    with tempfile.TemporaryDirectory(prefix="mwi-isolated-") as td:
        src, dst = Path(td) / "in.pkl", Path(td) / "out.pkl"
        src.write_bytes(pickle.dumps((fn.__module__, fn.__qualname__, args)))
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the child's stderr is captured: shown only on failure
        proc = subprocess.run([sys.executable, "-m", __name__, str(src), str(dst)], capture_output=True,
                              text=True, timeout=timeout, env=env)
        if not dst.is_file():
            from .build import is_native_chatter

            lines = [ln for ln in proc.stderr.strip().splitlines() if not is_native_chatter(ln)]
            tail = " | ".join(lines[-3:])[:400]
            how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
            raise ModelError(f"{fn.__qualname__} in a child process died ({how}; out of memory?): {tail}")
        status, value = pickle.loads(dst.read_bytes())
    if status == "ok":
        return value
    if isinstance(value, BaseException):
        raise value
    raise ModelError(str(value))


def _main(src: str, dst: str) -> int:
    module, qualname, args = pickle.loads(Path(src).read_bytes())
    try:
        fn: Any = importlib.import_module(module)
        for part in qualname.split("."):
            fn = getattr(fn, part)
        out: tuple[str, Any] = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed back to the parent
        out = ("error", exc)
    try:
        data = pickle.dumps(out)
    except Exception:  # noqa: BLE001 - an unpicklable exception travels as text
        data = pickle.dumps(("error", f"{type(out[1]).__name__}: {out[1]}"))
    Path(dst).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2]))
