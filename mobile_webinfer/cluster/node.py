"""What runs on a phone's host (a Ray node): no Ray here, so it is plain, testable Python.

`NodeAgent` lists the phones of its node through the node's own adb server (the env of the
node's `ray start`: ANDROID_ADB_SERVER_PORT / ADB_SERVER_SOCKET).  `PhoneHost` owns one phone:
a real `AndroidTarget`, a page server on the node's loopback and the phone's `adb reverse` to
it, the node-side stop Event, and the models installed from the driver's bundles.  Every
method answers a `Reply` (a plain dict): errors cross the wire as data (class, one line,
whether the phone is gone), never as pickled exception objects.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import InfraError, MwiError, device_gone
from ..records import CellRecord
from ..targets.contract import Stopped
from ..vocab import Budget, Cell
from .bundle import ModelBundle, install

Reply = dict[str, Any]
V = TypeVar("V")


def node_label(node_id: str) -> dict[str, str]:
    return {"node": node_id, "node_host": socket.gethostname()}


def _reply(fn: Callable[[], V]) -> Reply:
    try:
        return {"ok": True, "value": fn()}
    except MwiError as exc:
        return {"ok": False, "kind": type(exc).__name__, "message": exc.one_line(), "gone": device_gone(exc),
                "stopped": isinstance(exc, Stopped)}


class NodeAgent:
    """One per node: the phones this node's adb server sees."""

    def __init__(self, node_id: str):
        self.node_id = node_id

    def phones(self) -> Reply:
        """{serial: state} of every phone on this node's adb server."""
        from ..adb.discovery import list_devices

        return _reply(lambda: {i.serial: i.state for i in list_devices()})

    def devices(self) -> Reply:
        """`mwi devices --json` rows of this node (each with `node`), and the problems met."""
        from ..targets.devices import describe_all

        def run() -> dict[str, Any]:
            descs = describe_all()
            return {"rows": [{**d.record, **node_label(self.node_id)} for d in descs],
                    "problems": [p for d in descs for p in d.problems]}

        return _reply(run)


class PhoneHost:
    """One phone on its own node: the Target's methods, run where the phone is plugged in."""

    def __init__(self, serial: str, spec_json: dict[str, Any], node_id: str,
                 benchmark_model: bytes | None = None):
        self.serial = serial
        self.node_id = node_id
        self.spec_json = spec_json
        self._bm_bytes = benchmark_model
        self._stop = threading.Event()
        self._target: Any = None
        self._stack: contextlib.ExitStack | None = None
        self._server: Any = None
        self._models: dict[str, Any] = {}
        self._phone_lock: contextlib.ExitStack | None = None

    def _hold_phone_lock(self) -> None:
        """The phone's lock, taken on this node (where its restore journal and any other `mwi` run on
        it live), from the first contact until `leave`: LockBusy names the holder."""
        if self._phone_lock is None:
            from ..locks import device_lock

            stack = contextlib.ExitStack()
            stack.enter_context(device_lock(self.serial))
            self._phone_lock = stack

    def _release_phone_lock(self) -> None:
        stack, self._phone_lock = self._phone_lock, None
        if stack is not None:
            stack.close()

    # -- the target ----------------------------------------------------------------------
    def _make(self) -> Any:
        if self._target is None:
            from ..sweep.runner import default_target_factory
            from ..sweep.spec import SweepSpec

            spec = SweepSpec.from_json(self.spec_json)
            if self._bm_bytes is not None:
                spec.benchmark_model = str(self._benchmark_model_file(self._bm_bytes))
            self._target = default_target_factory(spec)(self.serial)
        return self._target

    @staticmethod
    def _benchmark_model_file(data: bytes) -> Path:
        """The driver's benchmark_model, by content, in this node's cache (the same bytes, same file)."""
        from ..paths import cache_dir

        d = cache_dir() / "cluster" / hashlib.sha256(data).hexdigest()[:16]
        path = d / "benchmark_model"
        if not path.is_file() or path.read_bytes() != data:
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f".benchmark_model.{os.getpid()}.part"
            tmp.write_bytes(data)
            tmp.chmod(0o755)
            tmp.replace(path)
        return path

    def describe(self) -> Reply:
        def run() -> dict[str, Any]:
            self._hold_phone_lock()  # describing replays the phone's restore journal: under its lock
            return {**self._make().describe(), **node_label(self.node_id)}

        return _reply(run)

    def browsers(self) -> Reply:
        return _reply(lambda: self._make().browsers())

    def native_backends(self) -> Reply:
        return _reply(lambda: self._make().native_backends())

    def recover(self) -> Reply:
        return _reply(lambda: bool(self._make().recover()))

    def enter(self) -> Reply:
        """The node-local page server and the phone's conditioning (screen, brightness), held
        until `leave`."""
        from ..paths import models_dir
        from ..web.server import PageServer

        def run() -> None:
            if self._stack is not None:
                return
            self._hold_phone_lock()
            stack = contextlib.ExitStack()
            try:
                self._server = stack.enter_context(PageServer(models_dir=models_dir()))
                stack.enter_context(self._make().conditions())
            except BaseException:
                stack.close()
                raise
            self._stack = stack

        return _reply(run)

    def leave(self) -> Reply:
        """Restore the phone and close the page server."""
        def run() -> None:
            stack, self._stack = self._stack, None
            try:
                if stack is not None:
                    stack.close()
            finally:
                self._release_phone_lock()

        return _reply(run)

    def capabilities(self) -> Reply:
        return _reply(lambda: self._make().capabilities(self._server))

    def install_model(self, bundle: ModelBundle) -> Reply:
        """The driver's model, installed here by content; {"written": bool} (False: already here)."""
        from ..paths import models_dir

        def run() -> dict[str, Any]:
            mf, written = install(bundle, models_dir())
            self._models[bundle.name] = mf
            return {"written": written}

        return _reply(run)

    def has_model(self, name: str) -> bool:
        return name in self._models

    def measure(self, cell_json: dict[str, Any], budget_json: dict[str, Any]) -> Reply:
        """One cell on this node: the record (JSON, with `node`), the samples and native outputs."""
        def run() -> dict[str, Any]:
            cell = Cell.from_json(cell_json)
            model = self._models.get(cell.model)
            if model is None:
                raise MwiError(f"{self.serial}: model {cell.model} was not installed on node {self.node_id}")
            if self._server is None:
                raise MwiError(f"{self.serial}: measure before enter on node {self.node_id}")
            try:
                m = self._make().measure(cell, model, self._server, Budget(**budget_json), self._stop)
            except MwiError as exc:
                if device_gone(exc) or isinstance(exc, Stopped):
                    raise  # the driver's runner recovers the phone or ends its worker
                # a failed cell, stored as the runner stores one, and with the node that ran it
                failed = CellRecord.failed(exc.one_line(), type(exc).__name__, infra=isinstance(exc, InfraError))
                return {"record": dataclasses.replace(failed, node=self.node_id).to_json(), "samples": [],
                        "outputs": None}
            rec = dataclasses.replace(m.record, node=self.node_id)
            outputs = None if m.outputs is None else [np.asarray(o) for o in m.outputs]
            return {"record": rec.to_json(), "samples": [dict(s) for s in m.samples], "outputs": outputs}

        return _reply(run)

    def stop(self) -> None:
        """The driver's Ctrl-C: every wait of this phone's target ends (raising `Stopped`)."""
        self._stop.set()

    def ping(self) -> str:
        return self.node_id
