"""The strict Android command table, driven through adbutils over real adb."""

from __future__ import annotations

import re

import pytest

from tests.fakephone.pytest_fixtures import start_fake_phone


@pytest.fixture(scope="module")
def galaxy(adb_server):
    handle = start_fake_phone(adb_server, "galaxy", in_process=True)
    yield handle
    handle.stop()


def sh(handle, line: str):
    return handle.device().shell2(line, v2=True)


def test_getprop_all_and_one(galaxy):
    r = sh(galaxy, "getprop")
    assert r.returncode == 0
    props = dict(re.findall(r"^\[([^\]]+)\]: \[(.*)\]$", r.stdout, re.M))
    assert props["ro.product.model"] == "SM-S936B"
    assert props["ro.build.version.sdk"] == "36"
    assert props["ro.board.platform"] == "sun"          # from the real S25+ capture
    assert len(props) > 1000                              # the whole capture, not a stub
    assert sh(galaxy, "getprop ro.soc.model").stdout == "SM8750\n"
    assert sh(galaxy, "getprop no.such.prop").stdout == "\n"


def test_settings_remember_values_per_namespace(galaxy):
    assert sh(galaxy, "settings get system screen_brightness").stdout == "128\n"
    assert sh(galaxy, "settings put system screen_brightness 40").returncode == 0
    assert sh(galaxy, "settings get system screen_brightness").stdout == "40\n"
    assert sh(galaxy, "settings get global screen_brightness").stdout == "null\n"
    assert sh(galaxy, "settings get nowhere x").returncode != 0
    sh(galaxy, "settings put system screen_brightness 128")


def test_svc_power_stayon_sets_global_setting(galaxy):
    assert sh(galaxy, "svc power stayon true").returncode == 0
    assert sh(galaxy, "settings get global stay_on_while_plugged_in").stdout == "7\n"
    assert "mStayOnWhilePluggedInSetting=7" in sh(galaxy, "dumpsys power").stdout
    sh(galaxy, "svc power stayon false")
    assert sh(galaxy, "settings get global stay_on_while_plugged_in").stdout == "0\n"


def test_power_and_keyevents(galaxy):
    assert "mWakefulness=Awake" in sh(galaxy, "dumpsys power").stdout
    sh(galaxy, "input keyevent KEYCODE_SLEEP")
    assert "mWakefulness=Asleep" in sh(galaxy, "dumpsys power").stdout
    sh(galaxy, "input keyevent 224")
    assert "mWakefulness=Awake" in sh(galaxy, "dumpsys power").stdout


def test_battery_set_unplug_reset(galaxy):
    out = sh(galaxy, "dumpsys battery").stdout
    assert out.startswith("Current Battery Service state:\n")
    assert "  level: 64\n" in out and "  temperature: 305\n" in out
    sh(galaxy, "dumpsys battery unplug")
    out = sh(galaxy, "dumpsys battery").stdout
    assert "  AC powered: false\n" in out and "  USB powered: false\n" in out
    sh(galaxy, "dumpsys battery set level 42")
    assert "  level: 42\n" in sh(galaxy, "dumpsys battery").stdout
    sh(galaxy, "dumpsys battery reset")
    out = sh(galaxy, "dumpsys battery").stdout
    assert "  level: 64\n" in out and "  AC powered: true\n" in out


def test_thermalservice_from_capture(galaxy):
    out = sh(galaxy, "dumpsys thermalservice").stdout
    assert "Thermal Status: 0\n" in out
    assert "ThermalHAL AIDL 1  connected: yes" in out
    assert "mName=SKIN" in out


def test_sysfs_and_proc_files(galaxy):
    assert sh(galaxy, "cat /sys/class/thermal/thermal_zone0/type").stdout == "AP\n"
    assert int(sh(galaxy, "cat /sys/class/thermal/thermal_zone0/temp").stdout) == 34600
    assert int(sh(galaxy, "cat /sys/devices/system/cpu/cpu7/cpufreq/cpuinfo_max_freq").stdout) == 4473600
    cur = int(sh(galaxy, "cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq").stdout)
    assert 384000 <= cur <= 3532800
    assert int(sh(galaxy, "cat /sys/class/power_supply/battery/voltage_now").stdout) > 3_000_000
    int(sh(galaxy, "cat /sys/class/power_supply/battery/current_now").stdout)
    stat = sh(galaxy, "cat /proc/stat").stdout.splitlines()
    assert stat[0].startswith("cpu  ") and stat[8].startswith("cpu7 ")
    r = sh(galaxy, "cat /sys/class/thermal/thermal_zone99/temp")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert "MemTotal:" in sh(galaxy, "cat /proc/meminfo").stdout


def test_wm_size_density_and_override(galaxy):
    assert sh(galaxy, "wm size").stdout == "Physical size: 1080x2340\n"
    sh(galaxy, "wm size 720x1560")
    assert sh(galaxy, "wm size").stdout == "Physical size: 1080x2340\nOverride size: 720x1560\n"
    sh(galaxy, "wm size reset")
    assert sh(galaxy, "wm density").stdout == "Physical density: 450\n"


def test_packages_and_versions(galaxy):
    pkgs = sh(galaxy, "pm list packages").stdout.splitlines()
    assert "package:com.android.chrome" in pkgs and "package:com.sec.android.app.sbrowser" in pkgs
    assert "package:com.chrome.beta" not in pkgs
    assert sh(galaxy, "pm list packages -f chrome").stdout.startswith("package:/data/app/")
    assert sh(galaxy, "pm path com.chrome.beta").returncode == 1
    assert "versionName=28.0.5.9" in sh(galaxy, "dumpsys package com.sec.android.app.sbrowser").stdout
    assert "versionName" not in sh(galaxy, "dumpsys package com.chrome.beta").stdout
    out = sh(galaxy, "cmd package resolve-activity --brief com.android.chrome").stdout
    assert out.splitlines()[-1] == "com.android.chrome/com.google.android.apps.chrome.Main"
    assert sh(galaxy, "cmd package resolve-activity --brief com.nope.app").stdout == "No activity found\n"


def test_misc_commands(galaxy):
    assert sh(galaxy, "id").stdout.startswith("uid=2000(shell)")
    assert " up " in sh(galaxy, "uptime").stdout
    assert sh(galaxy, "echo -n x").stdout == "x"
    assert sh(galaxy, "pidof com.android.chrome").returncode == 1
    assert "USER" in sh(galaxy, "ps -A").stdout.splitlines()[0]
    assert "system_server" in sh(galaxy, "ps -A -o PID,NAME").stdout
    assert "System now ready" in sh(galaxy, "logcat -d -b all").stdout


def test_files_mkdir_chmod_ls_rm(galaxy):
    assert sh(galaxy, "mkdir -p /data/local/tmp/d/e").returncode == 0
    assert sh(galaxy, "echo data > /data/local/tmp/d/e/f.txt").returncode == 0
    assert sh(galaxy, "cat /data/local/tmp/d/e/f.txt").stdout == "data\n"
    assert sh(galaxy, "test -x /data/local/tmp/d/e/f.txt").returncode == 1
    assert sh(galaxy, "chmod 755 /data/local/tmp/d/e/f.txt").returncode == 0
    assert sh(galaxy, "test -x /data/local/tmp/d/e/f.txt").returncode == 0
    assert sh(galaxy, "ls /data/local/tmp/d/e").stdout == "f.txt\n"
    assert sh(galaxy, "rm -r /data/local/tmp/d").returncode == 0
    r = sh(galaxy, "ls /data/local/tmp/d")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert sh(galaxy, "mkdir /system/x").returncode == 1


def test_shell_lists_pipes_and_redirections(galaxy):
    assert sh(galaxy, "false && echo no; echo $?").stdout == "1\n"
    assert sh(galaxy, "false || echo yes").stdout == "yes\n"
    assert sh(galaxy, "dumpsys battery | grep temperature").stdout.strip() == "temperature: 305"
    assert sh(galaxy, r"getprop | grep -c '^\[ro.product.model\]'").stdout == "1\n"
    r = sh(galaxy, "cat /nope 2>/dev/null; echo done")
    assert r.stdout == "done\n" and r.stderr == ""
    r = sh(galaxy, "cat /nope 2>&1")
    assert "No such file" in r.stdout and r.stderr == ""
    assert sh(galaxy, "sh -c 'echo inner; exit_code_cmd' ").returncode == 127
    assert sh(galaxy, "sh -c 'getprop ro.product.device'").stdout == "pa2q\n"


def test_am_start_unknown_package_and_activity(galaxy):
    r = sh(galaxy, "am start -a android.intent.action.VIEW -d http://127.0.0.1:1/ -p com.chrome.beta")
    assert r.returncode == 1 and "unable to resolve Intent" in r.stdout
    r = sh(galaxy, "am start -n com.android.chrome/.NoSuchActivity")
    assert "Error type 3" in r.stdout
    assert galaxy.control.browsers() == {}


def test_command_log_records_every_line(galaxy):
    galaxy.control.clear_log()
    sh(galaxy, "getprop ro.product.model")
    sh(galaxy, "wm density")
    assert galaxy.commands == ["getprop ro.product.model", "wm density"]


def test_paths_cannot_escape_the_fake_storage(galaxy):
    r = sh(galaxy, "cat /data/local/tmp/../../../etc/passwd")
    assert r.returncode == 1 and "No such file or directory" in r.stderr and "root:" not in r.stdout
    r = sh(galaxy, "echo x > /data/local/tmp/../../../tmp/escape")
    assert r.returncode == 1 and "Permission denied" in r.stderr


def test_sdcard_is_noexec(galaxy):
    sh(galaxy, "echo x > /sdcard/benchmark_model")
    sh(galaxy, "chmod 755 /sdcard/benchmark_model")
    r = sh(galaxy, "/sdcard/benchmark_model --graph=/sdcard/x.tflite")
    assert r.returncode == 126 and "Permission denied" in r.stderr


def test_globs_expand_against_virtual_sysfs_and_storage(galaxy):
    r = sh(galaxy, "grep -H . /sys/devices/system/cpu/cpufreq/policy*/related_cpus")
    assert r.stdout == ("/sys/devices/system/cpu/cpufreq/policy0/related_cpus:0 1 2 3 4 5\n"
                        "/sys/devices/system/cpu/cpufreq/policy6/related_cpus:6 7\n")
    assert sh(galaxy, "cat /sys/class/thermal/thermal_zone*/type").stdout == "AP\nBAT\nSKIN\nPA\nUSB\n"
    assert sh(galaxy, "ls /sys/devices/system/cpu/cpufreq").stdout == "policy0\npolicy6\n"
    sh(galaxy, "echo 1 > /data/local/tmp/g1.txt; echo 2 > /data/local/tmp/g2.txt")
    assert sh(galaxy, "cat /data/local/tmp/g?.txt").stdout == "1\n2\n"
    assert sh(galaxy, "echo '*' /data/local/tmp/none*").stdout == "* /data/local/tmp/none*\n"  # no match: literal
    r = sh(galaxy, "grep -H . /sys/nothing /sys/devices/system/cpu/cpu0/online")
    assert r.returncode == 2 and "grep: /sys/nothing: No such file or directory" in r.stderr
    assert r.stdout == "/sys/devices/system/cpu/cpu0/online:1\n"


def test_cpufreq_script_of_the_capture_tool_reads_back(galaxy):
    """The lead's cpufreq parser reads what the fake prints for the capture tool's script."""
    from mobile_webinfer.targets.capture import CPUFREQ_SCRIPT
    from mobile_webinfer.parsers import parse_cpufreq

    r = galaxy.device().shell2(["sh", "-c", CPUFREQ_SCRIPT], v2=True)
    policies = parse_cpufreq(r.stdout)
    assert [p.related_cpus for p in policies] == [(0, 1, 2, 3, 4, 5), (6, 7)]
    assert policies[1].cpuinfo_max_khz == 4473600


def test_exit_builtin(galaxy):
    r = sh(galaxy, "echo a; exit 3; echo b")
    assert (r.stdout, r.returncode) == ("a\n", 3)
    assert sh(galaxy, "sh -c 'exit 5'; echo $?").stdout == "5\n"
