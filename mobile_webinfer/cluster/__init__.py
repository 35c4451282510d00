"""Phones on many hosts: one sweep across a Ray cluster (`mwi sweep --cluster ADDRESS`).

Layer: beside `sweep`, above `targets`.  `ray_cluster` is the one module that imports Ray
(the optional extra `mobile-webinfer[cluster]`); `node` holds what runs on a phone's host
(a real `AndroidTarget`, a node-local page server, `adb reverse`), and `bundle` ships model
files by content (sha256-checked), never through a shared filesystem.
"""

INSTALL_HINT = "--cluster needs Ray: pip install 'mobile-webinfer[cluster]' (in this checkout: .venv/bin/pip install -e '.[cluster]')"
