"""The generated report in real headless Chromium: no console errors, every image loaded, every
target section present; a screenshot is kept as the test's artifact (in its tmp dir)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobile_webinfer.htmlreport import write_report
from tests.report.chromium_page import image_widths, page_errors
from tests.sweep_helpers import run_mwi

pytestmark = pytest.mark.browser


def _check_in_chromium(index: Path, targets: list[str], shot: Path) -> None:
    with page_errors(index) as (page, errors):
        imgs = image_widths(page)
        assert imgs and all(w > 0 for _, w in imgs), imgs
        shown = page.eval_on_selector_all("section.target", "els => els.map(e => e.dataset.target)")
        assert sorted(shown) == sorted(targets)
        assert page.locator("#study").count() == 1
        page.screenshot(path=str(shot), full_page=True)
        assert not errors, errors
    assert shot.stat().st_size > 10_000


def test_two_phone_report_in_chromium(phone_run, tmp_path):
    index = write_report(phone_run)
    _check_in_chromium(index, ["R58M12345", "8BKX1Q2F"], tmp_path / "report-phones.png")


def test_report_of_a_real_local_sweep_in_chromium(tmp_path):
    proc = run_mwi("sweep", "--quick", "--models", "tiny_cnn", "--runtimes", "tfjs", "--backends", "wasm",
                   "--threads", "1", "--repeats", "1", "--out", str(tmp_path))
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    from tests.report.test_console import assert_no_chatter

    assert_no_chatter(proc.stderr)  # no TensorFlow / LiteRT start-up chatter from the native cells
    last = run_mwi("report", str(run_dir)).stdout.strip().splitlines()[-1]
    assert Path(last) == run_dir / "report" / "index.html"
    _check_in_chromium(Path(last), ["local"], tmp_path / "report-local.png")
