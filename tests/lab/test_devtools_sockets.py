"""DevTools sockets found, not guessed (issue 12 item 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile_webinfer.adb.device import Device
from mobile_webinfer.browsers.devtools import devtools_statuses, list_devtools_sockets
from mobile_webinfer.browsers.specs import get_spec, specs_for_socket
from mobile_webinfer.errors import ParseError
from mobile_webinfer.parsers.capture import capture_header, strip_capture_header
from mobile_webinfer.parsers.unix_sockets import (
    devtools_socket_names,
    parse_proc_net_unix,
)

FIX = Path(__file__).parent / "fixtures" / "proc_net_unix"
HEADER = "Num       RefCount Protocol Flags    Type St Inode Path\n"


def load(name: str) -> str:
    text = (FIX / name).read_text(encoding="utf-8")
    assert capture_header(text)["source"]
    return strip_capture_header(text)


def test_android_rows_give_chrome_socket_only():
    socks = parse_proc_net_unix(load("appium_test_android_rows.txt"))
    assert [s.path for s in socks] == ["/dev/socket/ss_conn_daemon", "@mcdaemon", "@chrome_devtools_remote",
                                       "/dev/socket/installd"]
    assert socks[2].abstract and socks[2].name == "chrome_devtools_remote" and socks[2].listening
    assert socks[2].inode == 245445 and not socks[0].abstract
    assert devtools_socket_names(socks) == ("chrome_devtools_remote",)


def test_android16_row_and_linux_kernel_format():
    socks = parse_proc_net_unix(HEADER + load("android16_devtools_row_grep_PARTIAL.txt"))
    assert devtools_socket_names(socks) == ("chrome_devtools_remote",) and socks[0].inode == 4869806
    host = parse_proc_net_unix(load("linux_host_kernel_format_PARTIAL.txt"))
    assert len(host) == 10 and devtools_socket_names(host) == ()
    unnamed = [s for s in host if s.path is None]
    assert len(unnamed) == 6 and all(s.name is None and not s.abstract for s in unnamed)
    assert any(s.path and s.path.endswith("SingletonSocket") and s.listening for s in host)


def test_socket_names_mapped_to_browsers_and_webviews():
    text = HEADER + "".join(
        f"0000000000000000: 00000002 00000000 {flags} 0001 01 {i} @{name}\n" for i, (name, flags) in enumerate([
            ("com.sec.android.app.sbrowser_devtools_remote", "00010000"),
            ("com.microsoft.emmx_devtools_remote", "00010000"),
            ("webview_devtools_remote_1201", "00010000"),
            ("chrome_devtools_remote", "00000000"),            # a connected (not listening) end: ignored
            ("chrome_devtools_remote_x", "00010000"),          # not a devtools name
        ]))
    names = devtools_socket_names(parse_proc_net_unix(text))
    assert names == ("com.sec.android.app.sbrowser_devtools_remote", "com.microsoft.emmx_devtools_remote",
                     "webview_devtools_remote_1201")
    assert [s.key for s in specs_for_socket(names[0])] == ["samsung"]
    assert [s.key for s in specs_for_socket(names[1])] == ["edge"]
    assert {s.key for s in specs_for_socket("chrome_devtools_remote")} >= {"chrome", "chrome-beta"}
    assert "USB Debugging of WebViews" in get_spec("samsung").devtools_hint


@pytest.mark.parametrize("text, what", [
    ("", "no 'Num RefCount"),
    ("total 0\n", "no 'Num RefCount"),
    (HEADER + "garbage row\n", "unreadable /proc/net/unix row"),
])
def test_bad_input(text, what):
    with pytest.raises(ParseError, match=what):
        parse_proc_net_unix(text, source="phone")


def test_fake_phone_answers_proc_net_unix_strictly(fake_phone):
    phone = fake_phone("galaxy", in_process=True)
    dev = Device(phone.serial)
    assert list_devtools_sockets(dev) == ()              # no browser running: no DevTools socket
    assert "cat /proc/net/unix" in phone.commands
    bad = dev.shell(["cat", "/proc/net/nope"], check=False)
    assert bad.exit_code != 0


@pytest.mark.browser
def test_fake_phone_missing_and_open_sockets_reported(fake_phone):
    phone = fake_phone("galaxy", in_process=True)
    dev = Device(phone.serial)
    chrome, samsung = get_spec("chrome"), get_spec("samsung")
    before = {s.package: s for s in devtools_statuses(dev, [chrome, samsung])}
    assert before[chrome.package].state == "missing" and "not open" in before[chrome.package].note
    assert before[samsung.package].state == "missing"
    assert "USB Debugging of WebViews" in before[samsung.package].note
    dev.shell(["am", "start", "-W", "-a", "android.intent.action.VIEW", "-d", "about:blank", "-p",
               chrome.package], timeout=60)
    try:
        assert list_devtools_sockets(dev) == ("chrome_devtools_remote",)
        after = {s.package: s for s in devtools_statuses(dev, [chrome, samsung])}
        assert after[chrome.package].ok and (after[chrome.package].pages or 0) >= 1
        assert after[samsung.package].state == "missing"
    finally:
        dev.shell(["am", "force-stop", chrome.package])
