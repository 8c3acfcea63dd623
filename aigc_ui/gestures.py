"""One person's gesture, one server call: Gradio's dropdown sends its `input` event twice for one click on an
option (on the click, then again as the box loses focus; seen in Chromium with Gradio 6.31). On Generate & rate
a pick of a model drew its images twice: two samples recorded for one shown, twice the image quota spent.
`.select` fires once, but not for a choice made with the keyboard, so the page keeps `input` and drops the echo.
Every dropdown whose pick makes the server work goes through `once_per_gesture`: Generate's draw, the explorer's
model, the model card.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import gradio as gr


class OneGesture:
    """Whether a call is the first of its gesture: the same arguments from the same browser within `window_s` of
    the previous one's end are its echo. Bounded: the oldest browsers are forgotten past `capacity`."""

    def __init__(self, window_s: float = 2.0, capacity: int = 1000, clock: Callable[[], float] = time.monotonic):
        self.window_s, self.capacity, self.clock = window_s, capacity, clock
        self._last: OrderedDict[str, tuple[Hashable, float]] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, browser: str, key: Hashable) -> bool:
        """True for a new gesture (and remembers it), False for the echo of the one just made."""
        with self._lock:
            seen = self._last.get(browser)
            now = self.clock()
            if seen is not None and seen[0] == key and now - seen[1] < self.window_s:
                return False
            self._remember(browser, key, now)
            return True

    def done(self, browser: str, key: Hashable) -> None:
        """The gesture's call ended: its echo, which waited behind it, is measured from here."""
        with self._lock:
            self._remember(browser, key, self.clock())

    def _remember(self, browser: str, key: Hashable, at: float) -> None:
        self._last[browser] = (key, at)
        self._last.move_to_end(browser)
        while len(self._last) > self.capacity:
            self._last.popitem(last=False)


def once_per_gesture(fn: Callable[..., Any], echo: Any, gestures: OneGesture | None = None) -> Callable[..., Any]:
    """A dropdown's `input` handler that runs `fn(*inputs, request)` once per gesture and answers `echo`
    (nothing changes: `gr.skip()`, one per output) to the same browser's repeat of the same inputs."""
    gate = gestures or OneGesture()

    def gated(request: gr.Request, *inputs: Any) -> Any:  # gr.Request first: Gradio fills positional ones only
        browser, key = request.session_hash or "", _hashable(inputs)
        if not gate.first(browser, key):
            return echo
        try:
            return fn(*inputs, request)
        finally:
            gate.done(browser, key)

    return gated


def _hashable(inputs: tuple) -> Hashable:
    try:
        hash(inputs)
        return inputs
    except TypeError:  # a list or dict among the inputs: its text stands for it
        return repr(inputs)
