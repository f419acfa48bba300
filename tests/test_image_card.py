"""The image card's slider is clicked only where the track stands still (no browser needed).

During the full-screen dialog's opening animation the track moves; a click there can land on
the overlay and close the dialog (seen in CI: the check then reported a card with no slider).
"""

from __future__ import annotations

from twinflow.tracking import image_card
from twinflow.tracking.dashboard_js import SLIDER_END


class ScriptedPage:
    """Answers SLIDER_END from a script (one answer per poll) and records clicks."""

    def __init__(self, answers: list) -> None:
        self.answers, self.clicks = list(answers), []

    def evaluate(self, expression: str):
        assert expression == SLIDER_END
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def click(self, x: float, y: float) -> None:
        self.clicks.append((x, y))


def test_clicks_only_a_settled_track_and_stops_at_the_end(monkeypatch):
    monkeypatch.setattr(image_card.time, "sleep", lambda s: None)
    page = ScriptedPage([None, [-2, 20, False], [600, 700, False], [1266, 1183, False],
                         [1266, 1183, False], [1266, 1183, True]])
    assert image_card.slide_to_end(page, timeout=5)
    assert page.clicks == [(1266, 1183)]


def test_a_slider_that_never_settles_is_never_clicked(monkeypatch):
    monkeypatch.setattr(image_card.time, "sleep", lambda s: None)
    moving = [[float(i), 20.0, False] for i in range(2000)]
    page = ScriptedPage([*moving, None])
    assert not image_card.slide_to_end(page, timeout=0.2)
    assert page.clicks == []
