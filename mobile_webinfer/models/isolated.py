"""Run one converter function in a fresh Python process (used for big models); keep TensorFlow's
native start-up chatter off the terminal (`native_chatter_filtered`).

``python -m mobile_webinfer.models.isolated IN OUT``: IN holds a pickled
(module, function, args); OUT receives a pickled ("ok", result) or ("error", exception).
A plain subprocess, not multiprocessing's spawn: spawn re-runs the caller's main
script in the child, which deadlocks scripts that build models at top level.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import ModelError

#: start-up and delegate chatter that TensorFlow / LiteRT print from C++ straight to fd 2 (absl logs
#: before absl::InitializeLog ignore TF_CPP_MIN_LOG_LEVEL): kept off the terminal; other lines pass
NATIVE_CHATTER = (
    "All log messages before absl::InitializeLog()", "cudart_stub.cc", "Could not find cuda drivers",
    "oneDNN custom operations are on", "TF_ENABLE_ONEDNN_OPTS", "Unable to register cuDNN", "Unable to register cuFFT",
    "Unable to register cuBLAS", "computation_placer.cc", "This TensorFlow binary is optimized",
    "To enable the following instructions", "rebuild TensorFlow with the appropriate compiler flags",
    "Created TensorFlow Lite XNNPACK delegate", "TF-TRT Warning", "cuda_executor.cc", "cuda_diagnostics",
    "failed call to cuInit", "port.cc:153] oneDNN", "cpu_feature_guard.cc",
)


def is_native_chatter(line: str) -> bool:
    return any(marker in line for marker in NATIVE_CHATTER)


def _repoint_log_handlers(closing: Any, to: Any) -> None:
    """A logging handler made inside the block (absl's, when TensorFlow is first imported there)
    holds the block's stderr: point it at the real one before that is closed, or every later
    warning ends in "I/O operation on closed file"."""
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for lg in loggers:
        for h in lg.handlers:
            if isinstance(h, logging.StreamHandler) and h.stream is closing:
                h.setStream(to)


@contextlib.contextmanager
def native_chatter_filtered() -> Iterator[None]:
    """Capture what native code writes to fd 2 while the block runs; afterwards pass every line on
    except TensorFlow's / LiteRT's known start-up chatter (all of it on an exception or MWI_DEBUG).

    Python's own `sys.stderr` (progress bars, warnings) keeps writing to the terminal meanwhile."""
    if os.environ.get("MWI_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (an embedding host): nothing to filter
        yield
        return
    failed = False
    old_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        py_stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
        sys.stderr = py_stderr
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr = old_stderr
            _repoint_log_handlers(py_stderr, old_stderr)
            py_stderr.close()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            keep = [ln for ln in text.splitlines() if ln.strip() and (failed or not is_native_chatter(ln))]
            if keep:
                print("\n".join(keep), file=sys.stderr, flush=True)


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
