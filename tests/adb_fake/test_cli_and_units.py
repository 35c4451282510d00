"""The standalone entry point, and pure units (shell parser, protocol, profiles)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.fakephone import Faults, available_profiles, load_profile
from tests.fakephone import adbproto as P
from tests.fakephone.pytest_fixtures import REPO_ROOT
from tests.fakephone.shell import STATUS_MARK, ShellSyntaxError, parse, tokenize


def test_main_prints_serial_first_and_serves_until_killed():
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakephone", "--port", "0", "--profile", "galaxy"],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline().strip()
        assert re.fullmatch(r"127\.0\.0\.1:\d+", first)
        assert proc.stdout.readline().startswith("control 127.0.0.1:")
        import socket
        port = int(first.split(":")[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(P.Message(P.A_CNXN, P.A_VERSION, P.MAX_PAYLOAD, b"host::\0").pack())
            msg = P.read_message(s, max_payload=P.MAX_PAYLOAD, check_data=True)
        assert msg.command == P.A_CNXN
        assert msg.data.startswith(b"device::ro.product.name=pa2qxeea;ro.product.model=SM-S936B;")
        assert b"features=shell_v2,cmd,stat_v2" in msg.data
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0


def test_main_rejects_emulator_port_range():
    r = subprocess.run([sys.executable, "-m", "tests.fakephone", "--port", "5555"], cwd=REPO_ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "5555-5585" in r.stderr


def test_message_pack_roundtrip_and_bad_magic():
    import socket
    a, b = socket.socketpair()
    with a, b:
        a.sendall(P.Message(P.A_WRTE, 3, 7, b"xyz").pack())
        msg = P.read_message(b, max_payload=P.MAX_PAYLOAD, check_data=True)
        assert (msg.name, msg.arg0, msg.arg1, msg.data) == ("WRTE", 3, 7, b"xyz")
        bad = bytearray(P.Message(P.A_OKAY, 1, 2).pack())
        bad[20] ^= 0xFF
        a.sendall(bytes(bad))
        with pytest.raises(P.ProtocolError, match="magic"):
            P.read_message(b, max_payload=P.MAX_PAYLOAD, check_data=True)


def test_checksum_checked_for_old_protocol_versions():
    import socket
    a, b = socket.socketpair()
    with a, b:
        raw = bytearray(P.Message(P.A_WRTE, 1, 2, b"abc").pack())
        raw[16] ^= 1  # corrupt data_check
        a.sendall(bytes(raw))
        with pytest.raises(P.ProtocolError, match="checksum"):
            P.read_message(b, max_payload=P.MAX_PAYLOAD, check_data=True)


@pytest.mark.parametrize("line, argvs", [
    ("echo 'a b' \"c $HOME\" d\\ e", [["echo", "a b", "c /", "d e"]]),
    ("a; b && c || d", [["a"], ["b"], ["c"], ["d"]]),
    ("getprop | grep -i x", [["getprop"], ["grep", "-i", "x"]]),
    ("echo '$(not run)' \"\\$HOME\"", [["echo", "$(not run)", "$HOME"]]),
])
def test_shell_parse(line, argvs):
    tree = parse(line, {"HOME": "/"})
    got = [cmd.argv for pipeline in tree.items for cmd in pipeline.commands]
    assert got == argvs


def test_shell_redirections_and_status():
    tree = parse("cat /x 2>/dev/null >> /data/local/tmp/o; echo $?", {})
    first = tree.items[0].commands[0]
    assert [(r.fd, r.op, r.target) for r in first.redirects] == [(2, ">", "/dev/null"),
                                                                (1, ">>", "/data/local/tmp/o")]
    assert tree.items[1].commands[0].argv == ["echo", STATUS_MARK]
    assert [t for t in tokenize("echo 2 > x", {})] == [("word", "echo"), ("word", "2"), ("op", ">"),
                                                       ("word", "x")]


@pytest.mark.parametrize("line", ["echo $(id)", "echo `id`", "sleep 1 &", "echo 'open", "(echo)", "| x"])
def test_shell_rejects_unsupported_syntax(line):
    with pytest.raises(ShellSyntaxError):
        parse(line, {})


def test_profiles_are_distinct_and_complete():
    assert {"pixel", "galaxy"} <= set(available_profiles())
    pixel, galaxy = load_profile("pixel"), load_profile("galaxy")
    assert pixel["manufacturer"] == "Google" and galaxy["manufacturer"] == "samsung"
    assert galaxy.browser("com.sec.android.app.sbrowser").version == "28.0.5.9"
    assert pixel.browser("com.sec.android.app.sbrowser") is None
    with pytest.raises(ValueError, match="unknown profile"):
        load_profile("iphone")


def test_fault_counters_and_rising_values():
    f = Faults()
    f.set("drop_on", ["^dumpsys battery$"])
    assert not f.take("drop_on", "dumpsys battery set level 5")
    assert f.take("drop_on", "dumpsys battery")
    assert not f.take("drop_on", "dumpsys battery")  # once by default
    f.set("thermal_status", 5)
    assert f.current_thermal_status() == 5
    f.set("battery_temp_c", 40.0)
    assert f.current_battery_temp_c(25.0) >= 40.0
    with pytest.raises(ValueError):
        f.set("drop_on", [42])


def test_remote_control_speaks_every_op(adb_server, fake_phone):
    phone = fake_phone("pixel")  # subprocess: control over the JSON-lines socket
    assert phone.control.ping() == "pong"
    phone.device().shell2("echo x", v2=True)
    assert phone.control.commands() == ["echo x"]
    assert any(s.startswith("shell,v2") for s in phone.control.services())
    phone.control.set_fault("thermal_status", 2)
    assert phone.control.faults()["thermal_status"] == 2
    assert phone.control.browsers() == {}
    assert phone.control.settings()["global"]["stay_on_while_plugged_in"] == "0"
    assert phone.control.kill_renderer() == []
    phone.control.clear_log()
    assert phone.control.commands() == [] and phone.control.sync_ops() == []
    with pytest.raises(RuntimeError, match="unknown fault"):
        phone.control.set_fault("nope", 1)


def test_newlines_separate_commands():
    tree = parse("\necho a\n\necho b &&\n echo c\n", {})
    assert [c.argv for p in tree.items for c in p.commands] == [["echo", "a"], ["echo", "b"], ["echo", "c"]]
    assert tree.ops == [";", "&&"]
