"""One pick, one call: the dropdown's echo of the same gesture is dropped (aigc_ui/gestures.py)."""

from __future__ import annotations

from aigc_ui.gestures import OneGesture


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_echo_of_a_pick_is_dropped_and_a_new_pick_is_not():
    clock = Clock()
    picks = OneGesture(window_s=2.0, clock=clock)
    assert picks.first("ann", ("vae", 8, 1))
    assert not picks.first("ann", ("vae", 8, 1))  # the same click's second `input`
    assert picks.first("bob", ("vae", 8, 1))  # another browser's own pick
    assert picks.first("ann", ("gan", 8, 1))  # another model: a new gesture
    clock.now += 5
    picks.done("ann", ("gan", 8, 1))  # a slow draw ended now: its echo, queued behind it, is measured from here
    clock.now += 1
    assert not picks.first("ann", ("gan", 8, 1))
    clock.now += 2.5
    assert picks.first("ann", ("gan", 8, 1))  # the same pick made again later: drawn again


def test_it_forgets_the_oldest_browsers():
    picks = OneGesture(capacity=2)
    for browser in ("a", "b", "c"):
        assert picks.first(browser, "k")
    assert picks.first("a", "k")  # "a" was forgotten: its pick counts as new
    assert not picks.first("c", "k")
