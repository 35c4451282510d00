"""Under --cluster a phone's lock is held on the node it is plugged into (issue 22), where its
restore journal lives and where another `mwi` would reach it, not on the driver.  The node's
PhoneHost runs here in-process against a fake phone (no Ray needed for what is tested)."""

from __future__ import annotations

import pytest

from mobile_webinfer.cluster.node import PhoneHost
from mobile_webinfer.errors import LockBusy
from mobile_webinfer.locks import device_lock
from mobile_webinfer.sweep.spec import SweepSpec


def test_the_phone_lock_is_held_on_its_node_from_describe_until_leave(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "node-cache"))
    phone = fake_phone("pixel")
    spec = SweepSpec(targets=[phone.serial], models=["tiny_cnn"], capabilities=False)
    host = PhoneHost(phone.serial, spec.to_json(), "node-a")
    reply = host.describe()
    assert reply["ok"], reply
    with pytest.raises(LockBusy), device_lock(phone.serial):  # another mwi on this node: refused at once
        pass
    assert host.enter()["ok"]
    assert host.leave()["ok"]
    with device_lock(phone.serial):  # released with the phone
        pass


def test_a_phone_in_use_on_its_node_is_refused_there(fake_phone, tmp_path, monkeypatch):
    monkeypatch.setenv("MWI_CACHE", str(tmp_path / "node-cache"))
    phone = fake_phone("pixel")
    spec = SweepSpec(targets=[phone.serial], models=["tiny_cnn"], capabilities=False)
    with device_lock(phone.serial):  # e.g. `mwi sweep --target SERIAL` run on that node by hand
        reply = PhoneHost(phone.serial, spec.to_json(), "node-a").describe()
    assert not reply["ok"] and reply["kind"] == "LockBusy" and phone.serial in reply["message"]
