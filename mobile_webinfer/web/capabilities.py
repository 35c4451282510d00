"""What a browser offers the runtimes: the capability matrix (one record per target x browser).

The probe page (pages/capabilities.html) asks the browser itself and POSTs one JSON object;
:func:`parse_capabilities` turns it into a frozen :class:`Capabilities` or raises
``InvalidCapabilities`` with one line.  :func:`probe_capabilities` runs one probe through a
PageServer, given a way to open a URL in the browser (Playwright locally, an intent on a
phone: see ``mobile_webinfer.targets.capabilities``).

    caps = probe_capabilities(server, open_url=page.goto)
    caps.wasm.relaxed_simd, caps.webgpu.adapter, caps.webnn.devices["gpu"].reason
    manifest["capabilities"][target][browser] = caps.to_json()

A sample of what the page posts (headless Chromium 156 on a 2-core Linux VM, trimmed)::

    {"schema_version": 1, "hardware_concurrency": 2, "device_memory_gb": 8,
     "cross_origin_isolated": true, "shared_array_buffer": true,
     "wasm": {"simd": true, "relaxed_simd": true, "threads": true, "jspi": true, "memory64": true},
     "webgl2": {"available": true, "renderer": "ANGLE (Google, Vulkan 1.3.0 (SwiftShader ...", ...},
     "webgpu": {"available": true, "adapter": {"vendor": "google", "architecture": "swiftshader", ...},
                "features": ["shader-f16", ...], "limits": {"maxBufferSize": 268435456, ...}},
     "webnn": {"available": true, "devices": {"cpu": {"ok": false,
               "reason": "NotSupportedError: ... WebNN is not supported on this platform."}, ...}}}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ..errors import ParseError

SCHEMA_VERSION = 1
WEBNN_DEVICE_TYPES = ("cpu", "gpu", "npu")


class InvalidCapabilities(ParseError):
    """What the probe page posted does not match the schema (the reason is one line)."""

    def __init__(self, message: str):
        super().__init__(message, source="capabilities")


@dataclass(frozen=True)
class WasmCaps:
    simd: bool
    relaxed_simd: bool
    threads: bool          # wasm shared memory validates (usable only when cross-origin isolated)
    jspi: bool             # WebAssembly.Suspending (JS promise integration)
    memory64: bool


@dataclass(frozen=True)
class WebGL2Caps:
    available: bool
    vendor: str | None
    renderer: str | None
    software: bool | None
    max_texture_size: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class GpuAdapterCaps:
    vendor: str
    architecture: str
    device: str
    description: str
    is_fallback_adapter: bool
    software: bool


@dataclass(frozen=True)
class WebGPUCaps:
    available: bool
    adapter: GpuAdapterCaps | None
    features: tuple[str, ...]
    limits: Mapping[str, float]
    shader_f16: bool
    timestamp_query: bool
    reason: str | None = None


@dataclass(frozen=True)
class WebNNDeviceCaps:
    ok: bool
    reason: str | None = None


@dataclass(frozen=True)
class WebNNCaps:
    available: bool                       # navigator.ml exists
    devices: Mapping[str, WebNNDeviceCaps]  # cpu / gpu / npu -> could a context be created
    reason: str | None = None

    @property
    def device_types(self) -> tuple[str, ...]:
        """The device types createContext accepted."""
        return tuple(d for d in WEBNN_DEVICE_TYPES if d in self.devices and self.devices[d].ok)


@dataclass(frozen=True)
class Capabilities:
    """One browser's capability record (what the page reported, checked)."""

    user_agent: str
    platform: str | None
    hardware_concurrency: int | None
    device_memory_gb: float | None
    secure_context: bool
    cross_origin_isolated: bool
    shared_array_buffer: bool
    wasm: WasmCaps
    webgl2: WebGL2Caps
    webgpu: WebGPUCaps
    webnn: WebNNCaps
    schema_version: int = SCHEMA_VERSION
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def wasm_threads_usable(self) -> bool:
        """Wasm threads really work: the feature, SharedArrayBuffer and cross-origin isolation."""
        return self.wasm.threads and self.shared_array_buffer and self.cross_origin_isolated

    def to_json(self) -> dict[str, Any]:
        """The manifest form (``capabilities`` per target and browser)."""
        d = asdict(self)
        d.pop("raw", None)
        d["webgpu"]["features"] = list(self.webgpu.features)
        d["webgpu"]["limits"] = dict(self.webgpu.limits)
        d["webnn"]["devices"] = {k: asdict(v) for k, v in self.webnn.devices.items()}
        d["webnn"]["device_types"] = list(self.webnn.device_types)
        d["wasm_threads_usable"] = self.wasm_threads_usable
        return d

    def summary(self) -> dict[str, str]:
        """Short text per column, for `mwi devices --capabilities`."""
        yes = {True: "yes", False: "no"}
        w = self.wasm
        wasm = ", ".join(n for n, ok in (("simd", w.simd), ("relaxed-simd", w.relaxed_simd), ("jspi", w.jspi),
                                         ("memory64", w.memory64)) if ok) or "none"
        threads = "yes" if self.wasm_threads_usable else (
            "no (" + ", ".join(n for n, ok in (("wasm threads", w.threads), ("SharedArrayBuffer", self.shared_array_buffer),
                                               ("crossOriginIsolated", self.cross_origin_isolated)) if not ok) + ")")
        gl = (f"{self.webgl2.renderer}{' (software)' if self.webgl2.software else ''}"
              if self.webgl2.available else f"no: {self.webgl2.reason}")
        g = self.webgpu
        if g.available and g.adapter is not None:
            a = g.adapter
            name = " ".join(x for x in (a.vendor, a.architecture, a.device) if x) or "adapter"
            gpu = (f"{name}{' (software)' if a.software else ''}; f16 {yes[g.shader_f16]}, "
                   f"timestamps {yes[g.timestamp_query]}")
        else:
            gpu = f"no: {g.reason}"
        n = self.webnn
        if not n.available:
            nn = f"no: {n.reason}"
        elif n.device_types:
            nn = ", ".join(n.device_types)
        else:
            reasons = sorted({d.reason or "" for d in n.devices.values()})
            nn = "no device: " + "; ".join(r for r in reasons if r)[:160]
        mem = "" if self.device_memory_gb is None else f"{self.device_memory_gb:g} GB"
        return {"cores": str(self.hardware_concurrency or "?"), "memory": mem, "wasm": wasm, "threads": threads,
                "webgl2": gl, "webgpu": gpu, "webnn": nn}


# ---- parsing -------------------------------------------------------------------------------


class _Obj:
    """Typed reads from one JSON object, naming the field in errors."""

    def __init__(self, d: Any, where: str):
        if not isinstance(d, dict):
            raise InvalidCapabilities(f"{where} must be an object")
        self.d = d
        self.where = where

    def _bad(self, key: str, what: str) -> InvalidCapabilities:
        return InvalidCapabilities(f"{self.where}.{key} must be {what}, got {str(self.d.get(key))[:60]!r}")

    def flag(self, key: str) -> bool:
        v = self.d.get(key)
        if not isinstance(v, bool):
            raise self._bad(key, "true or false")
        return v

    def opt_flag(self, key: str) -> bool | None:
        return None if self.d.get(key) is None else self.flag(key)

    def opt_text(self, key: str) -> str | None:
        v = self.d.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or len(v) > 4096:
            raise self._bad(key, "a string")
        return v

    def text(self, key: str) -> str:
        v = self.opt_text(key)
        if v is None:
            raise self._bad(key, "a string")
        return v

    def opt_int(self, key: str) -> int | None:
        v = self.d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise self._bad(key, "a non-negative integer")
        return v

    def opt_num(self, key: str) -> float | None:
        v = self.d.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise self._bad(key, "a non-negative number")
        return float(v)

    def obj(self, key: str) -> _Obj:
        return _Obj(self.d.get(key), f"{self.where}.{key}")


def _webgpu(o: _Obj) -> WebGPUCaps:
    available = o.flag("available")
    adapter = None
    if o.d.get("adapter") is not None:
        a = o.obj("adapter")
        adapter = GpuAdapterCaps(vendor=a.opt_text("vendor") or "", architecture=a.opt_text("architecture") or "",
                                 device=a.opt_text("device") or "", description=a.opt_text("description") or "",
                                 is_fallback_adapter=bool(a.opt_flag("is_fallback_adapter")),
                                 software=a.flag("software"))
    if available and adapter is None:
        raise InvalidCapabilities("webgpu.available is true but there is no adapter")
    feats = o.d.get("features") or []
    if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
        raise InvalidCapabilities("webgpu.features must list strings")
    limits = o.d.get("limits") or {}
    if not isinstance(limits, dict) or not all(isinstance(k, str) and isinstance(v, (int, float))
                                               and not isinstance(v, bool) for k, v in limits.items()):
        raise InvalidCapabilities("webgpu.limits must map names to numbers")
    return WebGPUCaps(available=available, adapter=adapter, features=tuple(sorted(feats)), limits=dict(limits),
                      shader_f16="shader-f16" in feats, timestamp_query="timestamp-query" in feats,
                      reason=o.opt_text("reason"))


def _webnn(o: _Obj) -> WebNNCaps:
    available = o.flag("available")
    devs = o.obj("devices") if o.d.get("devices") is not None else _Obj({}, "webnn.devices")
    devices: dict[str, WebNNDeviceCaps] = {}
    for k in devs.d:
        if k not in WEBNN_DEVICE_TYPES:
            raise InvalidCapabilities(f"webnn.devices: unknown device type {k!r}")
        d = devs.obj(k)
        devices[k] = WebNNDeviceCaps(ok=d.flag("ok"), reason=d.opt_text("reason"))
    if devices and not available:
        raise InvalidCapabilities("webnn.devices given but webnn.available is false")
    return WebNNCaps(available=available, devices=devices, reason=o.opt_text("reason"))


def parse_capabilities(payload: Any) -> Capabilities:
    """Check what the probe page posted; InvalidCapabilities (one line) when it does not fit."""
    o = _Obj(payload, "capabilities")
    if o.d.get("schema_version") != SCHEMA_VERSION:
        raise InvalidCapabilities(f"schema_version must be {SCHEMA_VERSION}, got {o.d.get('schema_version')!r}")
    if o.d.get("error"):
        raise InvalidCapabilities(f"the probe page failed: {str(o.d['error'])[:200]}")
    w = o.obj("wasm")
    wasm = WasmCaps(simd=w.flag("simd"), relaxed_simd=w.flag("relaxed_simd"), threads=w.flag("threads"),
                    jspi=w.flag("jspi"), memory64=w.flag("memory64"))
    g = o.obj("webgl2")
    webgl2 = WebGL2Caps(available=g.flag("available"), vendor=g.opt_text("vendor"), renderer=g.opt_text("renderer"),
                        software=g.opt_flag("software"), max_texture_size=g.opt_int("max_texture_size"),
                        reason=g.opt_text("reason"))
    hc = o.opt_int("hardware_concurrency")
    return Capabilities(
        user_agent=o.text("user_agent"), platform=o.opt_text("platform"), hardware_concurrency=hc,
        device_memory_gb=o.opt_num("device_memory_gb"), secure_context=o.flag("secure_context"),
        cross_origin_isolated=o.flag("cross_origin_isolated"), shared_array_buffer=o.flag("shared_array_buffer"),
        wasm=wasm, webgl2=webgl2, webgpu=_webgpu(o.obj("webgpu")), webnn=_webnn(o.obj("webnn")),
        raw={k: v for k, v in o.d.items() if k != "token"})


# ---- probing -------------------------------------------------------------------------------


class _ProbeTicket(Protocol):
    def url(self, origin: str | None = None) -> str: ...
    def wait(self, timeout: float) -> dict[str, Any]: ...
    def close(self) -> None: ...


class _ProbeServer(Protocol):
    def open_probe(self) -> Any: ...


def probe_capabilities(server: _ProbeServer, open_url: Callable[[str], object], *, origin: str | None = None,
                       timeout_s: float = 60.0) -> Capabilities:
    """Open the probe page with ``open_url`` (through ``origin``, e.g. the phone's side of adb
    reverse) and return the checked record.  PageError on timeout, InvalidCapabilities on junk."""
    ticket: _ProbeTicket = server.open_probe()
    try:
        open_url(ticket.url(origin))
        return parse_capabilities(ticket.wait(timeout_s))
    finally:
        ticket.close()


__all__ = ["Capabilities", "GpuAdapterCaps", "InvalidCapabilities", "WasmCaps", "WebGL2Caps", "WebGPUCaps",
           "WebNNCaps", "WebNNDeviceCaps", "parse_capabilities", "probe_capabilities"]
