"""One pick, one call: the dropdown's echo of the same gesture is dropped (aigc_ui/gestures.py)."""

from __future__ import annotations

from aigc_ui.gestures import OneGesture, once_per_gesture
from tests.app.helpers import FakeClock


def test_the_echo_of_a_pick_is_dropped_and_a_new_pick_is_not():
    clock = FakeClock(100.0)
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


class Request:
    def __init__(self, session_hash: str) -> None:
        self.session_hash = session_hash


def test_a_gated_handler_runs_once_per_gesture_and_answers_its_echo_with_nothing():
    calls = []

    def show(name, n, request):
        calls.append((name, n, request.session_hash))
        return f"{name}×{n}"

    gated = once_per_gesture(show, "skip")
    ann, bob = Request("ann"), Request("bob")
    assert gated(ann, "vae", 8) == "vae×8"
    assert gated(ann, "vae", 8) == "skip"  # the dropdown's echo: fn not called again
    assert gated(bob, "vae", 8) == "vae×8"  # another browser
    assert gated(ann, "gan", 8) == "gan×8"  # another pick
    assert gated(ann, ["a"], {"b": 1}) == "['a']×{'b': 1}"  # unhashable inputs are keyed by their text
    assert gated(ann, ["a"], {"b": 1}) == "skip"
    assert calls == [("vae", 8, "ann"), ("vae", 8, "bob"), ("gan", 8, "ann"), (["a"], {"b": 1}, "ann")]


def test_every_dropdown_pick_on_the_page_goes_through_the_gate(studio):
    """Generate's model, the explorer's model and the model card: each dropdown's `input` handler is gated
    (an ungated one ran twice per click: Generate drew and recorded two samples for one shown)."""
    import gradio as gr

    from aigc_ui import server

    demo = server.build_demo(studio)
    picks = [
        fn
        for fn in demo.fns.values()
        for block_id, event in fn.targets
        if event == "input" and isinstance(demo.blocks.get(block_id), gr.Dropdown)
    ]
    assert len(picks) >= 3
    assert all(fn.fn.__qualname__ == "once_per_gesture.<locals>.gated" for fn in picks), [
        fn.fn.__qualname__ for fn in picks
    ]
