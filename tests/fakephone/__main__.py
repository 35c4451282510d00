"""``python -m tests.fakephone --port 0 [--profile NAME]``: run one fake phone until killed.

First stdout line: the serial ``127.0.0.1:PORT``; second line: ``control 127.0.0.1:CPORT``
(the JSON-lines control socket, see control.py).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .control import ControlServer
from .faults import Faults
from .phone import GPU_FLAGS, FakePhone
from .profiles import available_profiles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fakephone", description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="adbd TCP port (0: ephemeral)")
    ap.add_argument("--profile", default="pixel", choices=available_profiles())
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--drop-on", action="append", default=[], metavar="REGEX",
                    help="drop the transport mid-output of the first command matching REGEX")
    ap.add_argument("--hang-on", action="append", default=[], metavar="REGEX",
                    help="never answer the first command matching REGEX")
    ap.add_argument("--offline", action="store_true", help="start offline")
    ap.add_argument("--unauthorized", action="store_true", help="never accept the host's key")
    ap.add_argument("--offline-for", type=float, default=None, metavar="S")
    ap.add_argument("--thermal-status", type=int, default=None)
    ap.add_argument("--thermal-rise-every", type=float, default=None, metavar="S")
    ap.add_argument("--battery-temp", type=float, default=None, metavar="C")
    ap.add_argument("--battery-rise", type=float, default=0.0, metavar="C_PER_S")
    ap.add_argument("--renderer-dies-after", type=float, default=None, metavar="S")
    ap.add_argument("--heat-model", action="store_true", help="heat / charge model driven by load (heat.py)")
    ap.add_argument("--time-scale", type=float, default=1.0, metavar="X",
                    help="test facility: the heat / charge clock runs X times faster (MWI_TEST_TIME_SCALE)")
    ap.add_argument("--chromium-flag", action="append", default=None,
                    help="flags for the launched Chromium (default: SwiftShader WebGL + WebGPU)")
    ap.add_argument("--drift", default=None, metavar="SCHEDULE",
                    help="a drifting phone: speed schedule like 1.0@0,0.6@20 (renderers and benchmark_model)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.port and 5555 <= args.port <= 5585:
        ap.error("ports 5555-5585 are scanned by adb as emulators; choose another")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    faults = Faults(thermal_status=args.thermal_status, thermal_rise_every_s=args.thermal_rise_every,
                    battery_temp_c=args.battery_temp, battery_rise_c_per_s=args.battery_rise,
                    renderer_dies_after_s=args.renderer_dies_after, offline=args.offline, unauthorized=args.unauthorized,
                    offline_for_s=args.offline_for, heat_model=args.heat_model, time_scale=args.time_scale)
    faults.set("drop_on", args.drop_on)
    faults.set("hang_on", args.hang_on)
    if args.drift:
        faults.set("drift", args.drift)
    flags = tuple(args.chromium_flag) if args.chromium_flag is not None else GPU_FLAGS
    done = threading.Event()  # handlers first: a kill right after the serial line still cleans up
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    phone = FakePhone(args.profile, port=args.port, faults=faults, chromium_flags=flags).start()
    control = ControlServer(phone, args.control_port)
    print(phone.serial, flush=True)
    print(f"control 127.0.0.1:{control.port}", flush=True)
    try:
        done.wait()
    finally:
        control.shutdown()
        phone.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
