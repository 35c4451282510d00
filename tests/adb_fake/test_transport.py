"""The fake phone speaks real ADB: Debian's adb and adbutils use it unmodified."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import adbutils
import pytest

from tests.fakephone.pytest_fixtures import free_port, start_adb_server, start_fake_phone


@pytest.fixture(scope="module")
def phone(adb_server):
    handle = start_fake_phone(adb_server, "pixel")
    yield handle
    handle.stop()


def test_adb_devices_lists_product_and_model(phone, adb_server):
    out = adb_server.adb("devices", "-l").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith(phone.serial))
    assert " device " in line
    assert "product:blueline" in line and "model:Pixel_3" in line and "device:blueline" in line


def test_features_reach_the_host(phone):
    features = phone.device().get_features().split(",")
    assert "shell_v2" in features and "stat_v2" in features and "cmd" in features


def test_shell2_stdout_stderr_and_exit_code(phone):
    d = phone.device()
    r = d.shell2("echo hello; getprop ro.product.model", v2=True)
    assert r.returncode == 0
    assert r.stdout == "hello\nPixel 3\n"
    r = d.shell2("cat /no/such/file", v2=True)
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr and r.stdout == ""


def test_shell_v1_exit_marker_through_adbutils(phone):
    r = phone.device().shell2("false", v2=False)  # appends '; echo X4EXIT:$?'
    assert r.returncode == 1
    assert phone.device().shell2("true", v2=False).returncode == 0


def test_adb_cli_shell_exit_code(phone):
    r = phone.adb("shell", "exit_is_not_a_command_here")
    assert r.returncode == 127
    assert "fakephone: unknown command: exit_is_not_a_command_here" in r.stderr


def test_unknown_command_fails_loudly_and_is_logged(phone):
    r = phone.device().shell2("frobnicate --all", v2=True)
    assert r.returncode == 127
    assert r.stderr.strip() == "fakephone: unknown command: frobnicate --all"
    assert "frobnicate --all" in phone.commands


def test_unknown_subcommand_of_known_command_fails_loudly(phone):
    r = phone.device().shell2("dumpsys nosuchservice", v2=True)
    assert r.returncode == 127 and "unknown command: dumpsys nosuchservice" in r.stderr


def test_unsupported_shell_syntax_is_rejected(phone):
    r = phone.device().shell2("echo $(reboot)", v2=True)
    assert r.returncode == 127 and "unsupported shell syntax" in r.stderr


def test_large_output_crosses_many_wrte_packets(phone, tmp_path):
    # 3 MiB through sync RECV and a big shell output: exercises WRTE/OKAY flow control.
    blob = os.urandom(3 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(blob)
    d = phone.device()
    d.sync.push(str(src), "/data/local/tmp/big.bin")
    back = d.sync.read_bytes("/data/local/tmp/big.bin")
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(blob).hexdigest()
    r = d.shell2("cat /data/local/tmp/big.bin | wc -l", v2=True)
    assert int(r.stdout) == blob.count(b"\n")


def test_push_pull_roundtrip_sha256_with_adb_cli(phone, tmp_path):
    data = os.urandom(200_001)
    src, dst = tmp_path / "a.bin", tmp_path / "b.bin"
    src.write_bytes(data)
    assert phone.adb("push", str(src), "/data/local/tmp/sub/a.bin").returncode == 0
    assert phone.adb("pull", "/data/local/tmp/sub/a.bin", str(dst)).returncode == 0
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(data).digest()
    r = phone.device().shell2("sha256sum /data/local/tmp/sub/a.bin", v2=True)
    assert r.stdout.split()[0] == hashlib.sha256(data).hexdigest()


def test_stat_and_list_via_sync(phone, tmp_path):
    d = phone.device()
    src = tmp_path / "s.txt"
    src.write_bytes(b"12345")
    d.sync.push(str(src), "/data/local/tmp/s.txt")
    st = d.sync.stat("/data/local/tmp/s.txt")
    assert st.size == 5 and st.mode & 0o170000 == 0o100000
    missing = d.sync.stat("/data/local/tmp/missing")
    assert missing.mode == 0 and missing.size == 0
    names = [e.path for e in d.sync.list("/data/local/tmp")]
    assert "s.txt" in names


def test_push_outside_writable_area_fails(phone, tmp_path):
    src = tmp_path / "x"
    src.write_bytes(b"x")
    r = phone.adb("push", str(src), "/system/bin/x")
    assert r.returncode != 0 and "Read-only file system" in (r.stdout + r.stderr)


def _echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                while data := c.recv(65536):
                    c.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    return srv


def test_reverse_forward_list_and_kill_with_real_echo(phone):
    d = phone.device()
    srv = _echo_server()
    host_port = srv.getsockname()[1]
    dev_port = free_port()
    try:
        d.reverse(f"tcp:{dev_port}", f"tcp:{host_port}")
        items = d.reverse_list()
        assert any(i.remote == f"tcp:{dev_port}" and i.local == f"tcp:{host_port}" for i in items)
        # a "phone-side" client: connect to the device port, bytes travel through the adb server
        payload = os.urandom(300_000)
        with socket.create_connection(("127.0.0.1", dev_port), timeout=10) as c:
            c.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = c.recv(65536)
                assert chunk
                got += chunk
        assert got == payload
        d.reverse_remove(f"tcp:{dev_port}")
        assert not any(i.remote == f"tcp:{dev_port}" for i in d.reverse_list())
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", dev_port), timeout=2).close()
        d.reverse(f"tcp:{dev_port}", f"tcp:{host_port}")
        d.reverse_remove_all()
        assert d.reverse_list() == []
    finally:
        srv.close()


def test_reverse_killforward_of_unknown_port_fails(phone):
    with pytest.raises(adbutils.AdbError):
        phone.device().reverse_remove("tcp:1")


def test_adb_cli_reverse_list(phone):
    srv = _echo_server()
    dev_port = free_port()
    try:
        assert phone.adb("reverse", f"tcp:{dev_port}", f"tcp:{srv.getsockname()[1]}").returncode == 0
        out = phone.adb("reverse", "--list").stdout
        assert f"tcp:{dev_port} tcp:{srv.getsockname()[1]}" in out
        assert phone.adb("reverse", "--remove-all").returncode == 0
        assert phone.adb("reverse", "--list").stdout.strip() == ""
    finally:
        srv.close()


def test_forward_tcp_reaches_a_device_port(phone):
    srv = _echo_server()  # the "device-side" service listens on a port of this computer
    d = phone.device()
    try:
        local = d.forward_port(srv.getsockname()[1])
        with socket.create_connection(("127.0.0.1", local), timeout=10) as c:
            c.sendall(b"ping through forward")
            assert c.recv(100) == b"ping through forward"
        d.forward_remove(f"tcp:{local}")
    finally:
        srv.close()


def test_create_connection_tcp_and_unknown_abstract_socket(phone):
    srv = _echo_server()
    d = phone.device()
    try:
        s = d.create_connection(adbutils.Network.TCP, srv.getsockname()[1])
        s.sendall(b"abc")
        assert s.recv(10) == b"abc"
        s.close()
        with pytest.raises(adbutils.AdbError):
            d.create_connection(adbutils.Network.LOCAL_ABSTRACT, "chrome_devtools_remote")
    finally:
        srv.close()


def test_metacharacters_reach_the_device_literally(phone):
    import shlex
    nasty = "a;b && c | d $(reboot) `id` 'q' \"dq\" $HOME * ?"
    r = phone.device().shell2(f"echo {shlex.quote(nasty)}", v2=True)
    assert r.returncode == 0 and r.stdout == nasty + "\n"
    assert f"echo {shlex.quote(nasty)}" in phone.commands
    r = phone.device().shell2(f"settings put global fake_key {shlex.quote(nasty)}", v2=True)
    assert r.returncode == 0
    assert phone.control.settings()["global"]["fake_key"] == nasty


def test_two_fakes_at_once_each_by_serial(adb_server, fake_phone):
    a = fake_phone("pixel")                   # a subprocess
    b = fake_phone("galaxy", in_process=True)  # a thread of this process
    assert a.serial != b.serial
    states = adb_server.devices()
    assert states[a.serial] == "device" and states[b.serial] == "device"
    assert a.device().shell2("getprop ro.product.model", v2=True).stdout.strip() == "Pixel 3"
    assert b.device().shell2("getprop ro.product.model", v2=True).stdout.strip() == "SM-S936B"
    assert adbutils.AdbClient(host="127.0.0.1", port=adb_server.port).device(b.serial).prop.model == "SM-S936B"
    assert a.adb("shell", "getprop", "ro.product.manufacturer").stdout.strip() == "Google"
    assert b.adb("shell", "getprop", "ro.product.manufacturer").stdout.strip() == "samsung"


def test_private_server_never_touches_default_port(adb_server):
    assert adb_server.port != 5037
    assert os.environ["ANDROID_ADB_SERVER_PORT"] == str(adb_server.port)
    assert os.environ["ADBUTILS_ADB_PATH"] == "/usr/bin/adb"


def test_adb_server_restart_drops_reverses_and_reconnects():
    server = start_adb_server()  # its own server: restarting the shared one would hurt other tests
    phone = start_fake_phone(server, "pixel", in_process=True)
    d = phone.device()
    dev_port = free_port()
    srv = _echo_server()
    try:
        d.reverse(f"tcp:{dev_port}", f"tcp:{srv.getsockname()[1]}")
        server.restart(reconnect=(phone.serial,))
        d = phone.device()
        assert d.reverse_list() == []  # reverses die with the transport, as on a real phone
        assert d.shell2("echo again", v2=True).stdout == "again\n"
    finally:
        srv.close()
        phone.stop()
        server.kill()


def test_concurrent_commands_from_many_threads(phone):
    errors: list[str] = []

    def worker(n: int) -> None:
        try:
            d = phone.device()
            for i in range(8):
                r = d.shell2(f"echo {n}-{i}; getprop ro.product.device", v2=True)
                if r.stdout != f"{n}-{i}\nblueline\n" or r.returncode != 0:
                    errors.append(repr(r))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_forward_to_a_closed_device_port_is_refused(phone):
    with pytest.raises(adbutils.AdbError):
        phone.device().create_connection(adbutils.Network.TCP, free_port())


def test_pty_shell_gets_crlf_like_a_terminal(phone):
    c = adbutils.AdbClient(host="127.0.0.1", port=int(os.environ["ANDROID_ADB_SERVER_PORT"]))
    conn = c.device(phone.serial).open_transport()
    try:
        conn.send_command("shell,v2,pty:echo a; echo b")
        conn.check_okay()
        data = b""
        while True:
            chunk = conn.conn.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        conn.close()
    assert b"a\r\nb\r\n" in data and data.endswith(b"\x03\x01\x00\x00\x00\x00")  # exit packet, status 0


def test_exec_out_is_raw_and_logged(phone):
    r = phone.adb("exec-out", "getprop", "ro.product.model")
    assert r.returncode == 0 and r.stdout == "Pixel 3\n"
    assert "getprop 'ro.product.model'" in phone.commands  # the adb client quotes each word itself
