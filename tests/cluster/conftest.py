"""A local Ray cluster of two nodes on this machine, each a "host" with its own adb server and
its own fake phone (ANDROID_ADB_SERVER_PORT in the node's environment), its own models
directory (no shared filesystem), Ray on 127.0.0.1 only, no dashboard; one cluster per module,
torn down at the end (nodes killed, adb servers and phones stopped)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakephone.pytest_fixtures import AdbServer, FakePhoneHandle, start_adb_server, start_fake_phone

ray = pytest.importorskip("ray", reason="the `cluster` extra (ray) is not installed")
from ray.cluster_utils import Cluster  # noqa: E402

from tests.fakephone.bench import stand_in_elf  # noqa: E402

#: node environment keys that make one node a separate "host"
NODE_KEYS = ("ANDROID_ADB_SERVER_PORT", "ADBUTILS_ADB_PATH", "MWI_MODELS_DIR", "MWI_CACHE", "RAY_USAGE_STATS_ENABLED")


@dataclass
class Host:
    name: str
    server: AdbServer
    phone: FakePhoneHandle
    models_dir: str
    cache_dir: str
    node: Any = None

    @property
    def node_id(self) -> str:
        return str(self.node.node_id)

    def env(self) -> dict[str, str]:
        return {"ANDROID_ADB_SERVER_PORT": str(self.server.port), "ADBUTILS_ADB_PATH": self.server.env["ADBUTILS_ADB_PATH"],
                "MWI_MODELS_DIR": self.models_dir, "MWI_CACHE": self.cache_dir, "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class TwoHosts:
    cluster: Any
    hosts: list[Host]
    root: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_node(self, host: Host, *, head: bool = False) -> None:
        """Start `host`'s Ray node with the host's environment (a node's workers inherit it)."""
        saved = {k: os.environ.get(k) for k in NODE_KEYS}
        os.environ.update(host.env())
        try:
            args: dict[str, Any] = dict(node_ip_address="127.0.0.1", num_cpus=1, include_dashboard=False,
                                        resources={f"mwi_host_{host.name}": 1})
            if head:
                args["_system_config"] = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3}
                self.cluster.add_node(**args)
                host.node = self.cluster.head_node
            else:
                host.node = self.cluster.add_node(**args)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.cluster.wait_for_nodes()

    def kill_node(self, host: Host) -> None:
        self.cluster.remove_node(host.node, allow_graceful=False)
        host.node = None

    def driver_env(self) -> dict[str, str]:
        """The driver (the `mwi` child process): models in its own directory, no adb server of its own."""
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_TMPDIR=self.root,
                   MWI_CACHE=os.path.join(self.root, "driver-cache"))
        env.pop("ANDROID_ADB_SERVER_PORT", None)
        return env


@pytest.fixture
def bm_binary(tmp_path):
    """Stands in for TFLite's benchmark_model: the fake phone runs the pushed .tflite itself."""
    p = tmp_path / "benchmark_model"
    p.write_bytes(stand_in_elf())
    return p


@pytest.fixture(scope="module")
def two_hosts() -> Iterator[TwoHosts]:
    root = tempfile.mkdtemp(prefix="mwi-ray-", dir="/tmp")  # short: Ray's unix sockets live under it
    saved_tmp = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = root  # Ray's session files and address file stay in this private folder
    hosts: list[Host] = []
    cluster = Cluster(initialize_head=False, connect=False, shutdown_at_exit=True)
    th = TwoHosts(cluster, hosts, root)
    try:
        for name, profile in (("a", "pixel"), ("b", "galaxy")):
            server = start_adb_server()
            phone = start_fake_phone(server, profile)
            hosts.append(Host(name, server, phone, os.path.join(root, f"models-{name}"),
                              os.path.join(root, f"cache-{name}")))
        th.add_node(hosts[0], head=True)
        th.add_node(hosts[1])
        yield th
    finally:
        try:
            cluster.shutdown()
        finally:
            for h in hosts:
                h.phone.stop()
                h.server.kill()
            if saved_tmp is None:
                os.environ.pop("RAY_TMPDIR", None)
            else:
                os.environ["RAY_TMPDIR"] = saved_tmp
            shutil.rmtree(root, ignore_errors=True)
