"""Screenshots of a page at desktop and phone size, as the browser tests take them."""

from __future__ import annotations

from typing import Any

PHONE = {"width": 390, "height": 844}


def both_sizes(page: Any, shot: Any, name: str) -> None:
    """`name`-desktop and `name`-phone, and on a phone the page must not scroll sideways.
    The page is left at the size it had."""
    restore = page.viewport_size
    shot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE)
    shot(page, f"{name}-phone")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: {width} px wide on a phone"
    if restore:
        page.set_viewport_size(restore)
