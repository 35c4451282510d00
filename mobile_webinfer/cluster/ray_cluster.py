"""The one module that imports Ray: connect, find every node's phones, run a sweep's phones
on the nodes they are plugged into, and bring each record back to the driver's run directory.

The driver keeps the ordinary runner (`run_sweep` with `make_target`): every phone becomes a
`ProxyTarget` whose Target methods call a `PhoneHost` actor pinned to the phone's node
(NodeAffinitySchedulingStrategy, hard).  The node runs the real `AndroidTarget`, its own page
server and `adb reverse`; the driver plans, stores (append-only, resumable), computes
agreement.  A node that dies makes its phone's calls raise `NodeLost` (a `DeviceNotFound`):
the runner treats that phone as lost, the others go on, `--resume` finishes it later.  The
driver's stop Event reaches the node through `PhoneHost.stop`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import errors as _errors
from ..errors import DeviceNotFound, InfraError, MwiError, UsageError
from ..records import CellRecord
from ..sweep.runner import SweepOutcome, TargetFactory, open_or_create, resolve_for_dry_run, run_sweep
from ..sweep.spec import SweepSpec
from ..targets.contract import Measurement, ProfileCapture, Stopped, Target
from ..vocab import Budget, Cell
from . import INSTALL_HINT
from .bundle import ModelBundle, pack
from .node import NodeAgent, PhoneHost, Reply

_ADDRESS = re.compile(r"(?:ray://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(\d{1,5})")
CALL_TIMEOUT_S = 300.0      # describe, conditions, recover: each answers well within this on a live node
PROBE_TIMEOUT_S = 900.0     # capabilities: every browser of the phone opens the probe page
LIST_TIMEOUT_S = 60.0       # a node's `adb devices`


class NodeLost(DeviceNotFound):
    """The Ray node a phone hangs off died or stopped answering: the phone is lost to this run."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def check_address(address: str) -> tuple[str, int]:
    """HOST:PORT (or ray://HOST:PORT) of a Ray head, reachable over TCP; one-line errors otherwise."""
    m = _ADDRESS.fullmatch(address.strip())
    if not m or not 0 < int(m.group(2)) < 65536:
        raise UsageError(f"--cluster wants HOST:PORT of a Ray head (what `ray start --head` prints), "
                         f"got {address!r}")
    host, port = m.group(1).strip("[]"), int(m.group(2))
    try:
        with socket.create_connection((host, port), timeout=5):
            pass
    except OSError as exc:
        raise InfraError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}; start one with "
                         f"`ray start --head` on that host") from None
    return host, port


def _raise_reply(reply: Reply, where: str) -> Any:
    """A node's Reply: its value, or its error rebuilt as the same mwi error class."""
    if reply.get("ok"):
        return reply.get("value")
    msg = str(reply.get("message"))
    if reply.get("stopped"):
        raise Stopped(msg)
    cls = getattr(_errors, str(reply.get("kind")), None)
    if isinstance(cls, type) and issubclass(cls, MwiError):
        try:
            exc = cls(msg)
        except TypeError:
            exc = None
        if exc is not None and (not reply.get("gone") or _errors.device_gone(exc)):
            raise exc
    raise (NodeLost(f"{where}: {msg}") if reply.get("gone") else MwiError(f"{where}: {msg}"))


class ClusterSession:
    """A connection to a running Ray cluster (driver side).  Use as a context manager: actors
    are killed and the connection closed on exit."""

    def __init__(self, address: str, stop: threading.Event | None = None):
        self.address = address
        self.stop = stop or threading.Event()
        self._ray: Any = None
        self._actors: list[Any] = []
        self._phones: dict[str, tuple[str, str]] | None = None  # serial -> (node id, state)
        self._bundles: dict[str, Any] = {}  # model name -> ObjectRef of its ModelBundle
        self._lock = threading.Lock()
        self.node_problems: list[str] = []

    # -- connection ------------------------------------------------------------------------
    def __enter__(self) -> ClusterSession:
        if importlib.util.find_spec("ray") is None:
            raise UsageError(INSTALL_HINT)
        host, _port = check_address(self.address)
        if host in ("127.0.0.1", "localhost", "::1"):
            # A head bound to loopback (one machine; the tests): Ray would rewrite 127.0.0.1 to this
            # host's LAN address, where nothing listens.  Read by Ray when it is first imported.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = _ray()
        try:
            ray.init(address=self.address, logging_level=logging.ERROR, log_to_driver=False,
                     namespace="mwi", configure_logging=True)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise InfraError(f"cannot join the Ray cluster at {self.address}: {' '.join(str(exc).split())[:300]}") \
                from None
        self._ray = ray
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for a in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(a)
        self._actors.clear()
        with contextlib.suppress(Exception):
            ray.shutdown()
        self._ray = None

    def nodes(self) -> list[dict[str, Any]]:
        return [n for n in self._ray.nodes() if n.get("Alive")]

    def _pinned(self, cls: type, node_id: str, *args: Any) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor = self._ray.remote(num_cpus=0, max_concurrency=4, max_restarts=0)(cls).options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)).remote(*args)
        self._actors.append(actor)
        return actor

    # -- waiting on a node, with the stop Event and a deadline --------------------------------
    def wait(self, ref: Any, *, where: str, timeout_s: float, on_stop: Any = None,
             stop: threading.Event | None = None) -> Any:
        ray = self._ray
        stop = stop or self.stop
        signalled = False
        t_end = time.monotonic() + timeout_s
        while True:
            ready, _ = ray.wait([ref], timeout=0.5)
            if ready:
                try:
                    return ray.get(ready[0])
                except ray.exceptions.RayTaskError as exc:  # a bug on the node, not a lost node
                    raise InfraError(f"{where}: {' '.join(str(exc).split())[-300:]}") from None
                except ray.exceptions.RayError as exc:
                    raise NodeLost(f"{where}: node lost ({type(exc).__name__})") from None
            if stop.is_set() and on_stop is not None and not signalled:
                on_stop()
                signalled = True
            if time.monotonic() > t_end:
                raise NodeLost(f"{where}: no answer within {timeout_s:.0f} s")

    # -- phones ----------------------------------------------------------------------------
    def phones(self) -> dict[str, tuple[str, str]]:
        """serial -> (node id, adb state) over every live node (asked once per session)."""
        if self._phones is not None:
            return self._phones
        found: dict[str, tuple[str, str]] = {}
        asks = [(n["NodeID"], self._pinned(NodeAgent, n["NodeID"], n["NodeID"])) for n in self.nodes()]
        refs = [(node, agent.phones.remote()) for node, agent in asks]
        for node, ref in refs:
            try:
                listed = _raise_reply(self.wait(ref, where=f"node {node}", timeout_s=LIST_TIMEOUT_S), f"node {node}")
            except MwiError as exc:
                self.node_problems.append(f"node {node}: cannot list phones: {exc.one_line()}")
                continue
            for serial, state in listed.items():
                if serial in found and found[serial][0] != node:
                    raise UsageError(f"phone {serial} is seen by two Ray nodes ({found[serial][0]}, {node}); "
                                     f"unplug it from one")
                found[serial] = (node, state)
        self._phones = found
        return found

    def devices(self) -> tuple[list[dict[str, Any]], list[str]]:
        """`mwi devices --cluster` rows (each with `node`) and the problems met, node by node."""
        rows: list[dict[str, Any]] = []
        problems = list(self.node_problems)
        asks = [(n["NodeID"], self._pinned(NodeAgent, n["NodeID"], n["NodeID"])) for n in self.nodes()]
        for node, ref in [(node, agent.devices.remote()) for node, agent in asks]:
            try:
                got = _raise_reply(self.wait(ref, where=f"node {node}", timeout_s=PROBE_TIMEOUT_S), f"node {node}")
            except MwiError as exc:
                problems.append(f"node {node}: {exc.one_line()}")
                continue
            rows += got["rows"]
            problems += got["problems"]
        return rows, problems

    def resolve_targets(self, spec: SweepSpec) -> None:
        """The sweep's phones: by default every phone in `device` state on any node."""
        if spec.targets == ["local"]:
            usable = sorted(s for s, (_n, state) in self.phones().items() if state == "device")
            if not usable:
                raise InfraError(f"no phone is attached to any of the {len(self.nodes())} Ray node(s) at "
                                 f"{self.address}" + (f" ({'; '.join(self.node_problems)})" if self.node_problems
                                                      else ""))
            spec.targets = usable
        elif "local" in spec.targets:
            raise UsageError("--cluster runs phones on Ray nodes; `local` is this computer: sweep it without --cluster")

    def bundle(self, model: Any) -> Any:
        """The driver's built model, put once into Ray's object store."""
        with self._lock:
            ref = self._bundles.get(model.name)
            if ref is None:
                ref = self._ray.put(pack(model))
                self._bundles[model.name] = ref
            return ref

    def target_factory(self, spec: SweepSpec) -> TargetFactory:
        spec_json = spec.to_json()
        bm = Path(spec.benchmark_model).read_bytes() if spec.benchmark_model else None

        def make(name: str) -> Target:
            return ProxyTarget(self, name, spec_json, bm)

        return make

    def host_for(self, serial: str, spec_json: dict[str, Any], bm: bytes | None) -> tuple[Any, str]:
        phones = self.phones()
        if serial not in phones:
            seen = ", ".join(sorted(phones)) or "none"
            raise DeviceNotFound(f"{serial}: no Ray node sees this phone (phones on the cluster: {seen})",
                                 serial=serial)
        node, _state = phones[serial]
        return self._pinned(PhoneHost, node, serial, spec_json, node, bm), node


class ProxyTarget:
    """A phone on another host, as a Target: each method runs on the phone's node."""

    def __init__(self, session: ClusterSession, name: str, spec_json: dict[str, Any], benchmark_model: bytes | None):
        self.name = name
        self.session = session
        self._spec_json = spec_json
        self._bm = benchmark_model
        self._actor: Any = None
        self.node: str | None = None
        self._models: set[str] = set()

    def _host(self) -> Any:
        if self._actor is None:
            self._actor, self.node = self.session.host_for(self.name, self._spec_json, self._bm)
        return self._actor

    def _call(self, method: str, *args: Any, timeout_s: float = CALL_TIMEOUT_S,
              stop: threading.Event | None = None) -> Any:
        actor = self._host()
        ref = getattr(actor, method).remote(*args)
        where = f"{self.name} on node {self.node}"
        reply = self.session.wait(ref, where=where, timeout_s=timeout_s, stop=stop,
                                  on_stop=lambda: actor.stop.remote())
        return _raise_reply(reply, where)

    # -- Target ------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        fp: dict[str, Any] = self._call("describe")
        return fp

    def browsers(self) -> list[str]:
        return list(self._call("browsers"))

    def native_backends(self) -> list[str]:
        return list(self._call("native_backends"))

    @contextlib.contextmanager
    def conditions(self) -> Iterator[None]:
        self._call("enter")
        try:
            yield
        finally:
            with contextlib.suppress(NodeLost):  # a dead node cannot restore; its journal does, next run
                self._call("leave")

    def recover(self, stop: threading.Event | None = None) -> bool:
        """The node waits for its phone (its own bound); `stop` cannot cross Ray: the driver's
        Ctrl-C reaches the node through `leave` once this call returns."""
        try:
            return bool(self._call("recover"))
        except NodeLost:
            return False

    def capabilities(self, server: Any) -> dict[str, Any]:
        caps: dict[str, Any] = self._call("capabilities", timeout_s=PROBE_TIMEOUT_S)
        return caps

    def measure(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> Measurement:
        if cell.model not in self._models:
            self._call("install_model", self.session.bundle(model), stop=stop)
            self._models.add(cell.model)
        limit = budget.cell_timeout_s * 4 + CALL_TIMEOUT_S  # the node's own watchdog ends a cell far sooner
        got = self._call("measure", cell.to_json(), budget.to_json(), timeout_s=limit, stop=stop)
        return Measurement(CellRecord.from_json(got["record"]), got["samples"], got["outputs"])

    def profile(self, cell: Cell, model: Any, server: Any, budget: Budget, stop: threading.Event) -> ProfileCapture:
        return ProfileCapture(unsupported="per-operator profiles are not taken over --cluster (run the phone's "
                                          "sweep with --profile-ops on its own host)")


def _spec_for_run(spec: SweepSpec, out_root: Path, resume: Path | None) -> SweepSpec:
    """The spec the run will use: a resumed run's own (its phones, its options)."""
    return open_or_create(spec, out_root, resume)[0]


def run_cluster_sweep(spec: SweepSpec, *, address: str, out_root: Path, resume: Path | None = None,
                      retry_failed: bool = False, progress: Any = None,
                      stop: threading.Event | None = None) -> SweepOutcome:
    """`mwi sweep --cluster ADDRESS`: every phone measured on its node, one run directory here."""
    stop = stop or threading.Event()
    with ClusterSession(address, stop) as session:
        spec = _spec_for_run(spec, out_root, resume)
        session.resolve_targets(spec)
        if resume is None:
            spec.validate()
        return run_sweep(spec, out_root=out_root, resume=resume, retry_failed=retry_failed,
                         make_target=session.target_factory(spec), progress=progress, stop=stop,
                         phone_locks=False)  # each phone is locked on its node (node.PhoneHost)


def cluster_dry_run(spec: SweepSpec, *, address: str) -> list[Cell]:
    with ClusterSession(address) as session:
        session.resolve_targets(spec)
        return resolve_for_dry_run(spec, session.target_factory(spec), phone_locks=False)


def cluster_devices(address: str) -> tuple[list[dict[str, Any]], list[str]]:
    with ClusterSession(address) as session:
        return session.devices()


__all__ = ["ClusterSession", "NodeLost", "ProxyTarget", "ModelBundle", "check_address", "cluster_devices",
           "cluster_dry_run", "run_cluster_sweep"]
