"""One way to look at a written HTML page as a person would: loaded in headless Chromium from its file,
with every console error, page error and failed request collected (the report, study and history pages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def page_errors(index: Path) -> Iterator[tuple[Any, list[str]]]:
    """(the loaded page, the errors seen so far); the caller asserts on the errors when it is done."""
    from mobile_webinfer.browsers.local_chromium import LocalChromium

    with LocalChromium(webgl=False, webgpu=False) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.goto(index.as_uri(), wait_until="load")
        yield page, errors


def image_widths(page: Any) -> list[list[Any]]:
    """Every <img>'s src and natural width (0: it did not load)."""
    return page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.naturalWidth])")
