"""The full-screen view of one MLflow image card, checked as a user checks it.

The card's slider is moved to the run's last logged step and the grid logged there must be
on screen (loaded, decoded, not covered).  Used by ``twinflow dashboard-check``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from twinflow.tracking.browser import Browser
from twinflow.tracking.dashboard_js import IMAGE_SHOWN, OPEN_CARD, SEARCH_CHARTS, SLIDER_END


def check_image_card(page: Browser, key: str, step: int, shot: Path, where: str,
                     timeout: float, tries: int = 3) -> list[str]:
    """Open ``key``'s image card full screen, slide to its last ``step``, see the grid there;
    a screenshot to ``shot``.  Returns the problems found (``where`` names the page).

    A card whose slider does not move (the dialog still rendering, or closed) is closed and
    opened again, as a user would, up to ``tries`` times."""
    width, height = page.width, page.height
    for attempt in range(1, tries + 1):
        page.type_into(SEARCH_CHARTS, key)
        if not page.wait_for(OPEN_CARD % json.dumps(key), timeout):
            return [f"{where} has no image card {key}"]
        page.resize(width, max(height, 1300))  # the full-screen card puts its image low
        try:
            if not slide_to_end(page, timeout / tries):
                if attempt < tries:
                    continue
                page.screenshot(shot)
                return [f"{where}: the full-screen card {key} shows no step slider that moves"]
            part = f"images/{key.replace('/', '~')}+step+{step}+"
            ok = page.wait_for(IMAGE_SHOWN % json.dumps(part), timeout)
            page.screenshot(shot)
            return [] if ok else [f"{where} does not show image {key} at step {step}"]
        finally:
            page.press("Escape", 27)
            page.wait_for("!document.querySelector('[role=\"dialog\"]')", 10)
            page.resize(width, height)
    raise AssertionError("unreachable: the last try returns")


def slide_to_end(page: Browser, timeout: float) -> bool:
    """Click the end of the full-screen card's slider until it sits at its last step.

    A click goes only where the track stands still under the pointer (the same point twice,
    half a second apart): during the dialog's opening animation it may be swallowed, or land
    on the overlay and close the dialog."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        where = page.evaluate(SLIDER_END)
        if where is not None and where[2]:
            return True
        if where is not None and where[:2] == last:
            page.click(where[0], where[1])
        last = where[:2] if where is not None else None
        time.sleep(0.5)
    return False


__all__ = ["check_image_card", "slide_to_end"]
