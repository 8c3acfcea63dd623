"""Blind A/B under Fine-tune & compare: parent vs child on the same seed, sides at random, names hidden.

Why blind until the end: if each pick said "you picked the child", a person would learn which side is
which and the p-value would measure that, not their taste. So a pick only records and shows the next
pair (one click per judgement); the tally is revealed when the person ends the session, or after each
block of BLOCK picks. The pair's identities stay in server-side state, never in the page.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

import gradio as gr

from aigc.service.studio import Studio, StudioError

from .common import PageContext, on_page, random_seed, rater_of, upscale

BLOCK = 10  # picks per block: the tally is shown after each full block, and on "End and show results"


def tally_text(studio: Studio, child: str) -> str:
    st = studio.ab_stats(child)
    if not st["wins"] + st["losses"] + st["ties"]:
        return "_No picks yet._"
    rate = "—" if st["win_rate"] is None else f"{st['win_rate']:.0%}"
    return (
        f"Child preferred in **{st['wins']}** of {st['wins'] + st['losses']} decided picks (win rate {rate}, "
        f"{st['ties']} ties) · two-sided binomial p = **{st['p_value']:.3g}** (all raters, all sessions)"
    )


def build(ctx: PageContext, child: gr.Dropdown) -> None:
    studio = ctx.studio
    gr.Markdown(
        "### Blind A/B: which do you prefer?\nOne image from the parent, one from the child, same seed, "
        f"sides at random, names hidden. Each pick shows the next pair; the result is revealed when you end "
        f"the session (or after every {BLOCK} picks)."
    )
    pair = gr.State({})  # {"model", "left_id", "right_id", "child_id", "picks"}: server-side only
    # format="png": Gradio sends a PIL image as lossy WebP by default, and the person would judge pixels a few
    # levels off the samples their pick is stored against (tests/app/test_browser_records.py)
    # min_width: on a phone the two pictures stay side by side (at Gradio's 160 px each they stacked, A above B,
    # and a person compared them by scrolling), as do the three pick buttons
    look: dict = {"interactive": False, "height": 224, "format": "png", "min_width": 100, "buttons": ["fullscreen"]}
    with gr.Row():
        left = gr.Image(label="A", elem_id="ab-left", **look)
        right = gr.Image(label="B", elem_id="ab-right", **look)
    with gr.Row():
        pick_left = gr.Button("A is better", elem_id="ab-left-btn", min_width=80)
        tie = gr.Button("Same", elem_id="ab-tie", min_width=60)
        pick_right = gr.Button("B is better", elem_id="ab-right-btn", min_width=80)
    with gr.Row():
        new_pair = gr.Button("▶ Start blind A/B", elem_id="ab-new")
        end = gr.Button("■ End and show results", elem_id="ab-end")
    progress = gr.Markdown(elem_id="ab-progress")
    result = gr.Markdown(elem_id="ab-stats")

    def next_pair(name: str, rater: str, picks: int) -> tuple:
        shown = studio.ab_pair(name, seed=random_seed(), rater=rater)
        state = {k: shown[k] for k in ("left_id", "right_id", "child_id")} | {"model": name, "picks": picks}
        return upscale(shown["left_image"], 8), upscale(shown["right_image"], 8), state

    @on_page
    def start(name, request: gr.Request):
        if not name:
            raise StudioError("Pick a fine-tuned version first.")
        a, b, state = next_pair(name, rater_of(request), 0)
        return a, b, state, "Pair 1: which do you prefer?", ""

    def pick_for(side: str):
        @on_page
        def pick(state, request: gr.Request):
            if not state:
                raise StudioError("Click “Start blind A/B” first.")
            chosen = {"left": state["left_id"], "right": state["right_id"], "tie": None}[side]
            rater = rater_of(request)
            studio.ab_pick(state["left_id"], state["right_id"], chosen, rater)
            picks = state["picks"] + 1
            a, b, new_state = next_pair(state["model"], rater, picks)
            block_done = picks % BLOCK == 0
            line = f"{picks} pick{'s' if picks > 1 else ''} recorded. Pair {picks + 1}: which do you prefer?"
            return a, b, new_state, line, tally_text(studio, state["model"]) if block_done else ""

        return pick

    @on_page
    def finish(state, name):
        shown = (state or {}).get("model") or name
        if not shown:
            raise StudioError("Pick a fine-tuned version first.")
        picks = (state or {}).get("picks", 0)
        return (
            None,
            None,
            {},
            f"Session ended after {picks} pick{'s' if picks != 1 else ''}.",
            tally_text(studio, shown),
        )

    outputs = [left, right, pair, progress, result]
    new_pair.click(start, child, outputs, api_visibility="private")
    for button, side in ((pick_left, "left"), (pick_right, "right"), (tie, "tie")):
        button.click(pick_for(side), pair, outputs, api_visibility="private", trigger_mode="once")
    end.click(finish, [pair, child], outputs, api_visibility="private")


# ---------------------------------------------------------------- the same, for API clients

PENDING_MAX = 4096  # pairs waiting for their pick, all clients together; the oldest is forgotten first
PENDING_EACH = 64  # ... and one client's: a script that never judges cannot push out everyone else's pairs
CHOICES = {"A": "left", "B": "right", "same": "tie"}  # a pick's words (either case) → the side it picks


class PendingPairs:
    """Blind pairs shown through the API (`/ab_pair`), each waiting for its one pick (`/ab_pick`).

    A client gets a random token, never the sample ids of its two sides: a script judges blind as a person does
    (the page keeps the identities in server-side state for the same reason), and a pick can be only of a pair
    this client was shown, once. Bounded: a client asking for pairs it never judges pushes out the oldest.
    """

    def __init__(self, max_pairs: int = PENDING_MAX, max_each: int = PENDING_EACH):
        self.max_pairs, self.max_each = max_pairs, max_each
        self._pairs: OrderedDict[str, tuple[str, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, rater: str, pair: dict) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._pairs[token] = (str(rater), pair)
            theirs = [t for t, (who, _) in self._pairs.items() if who == str(rater)]  # oldest first
            for old in theirs[: max(0, len(theirs) - self.max_each)]:
                del self._pairs[old]
            while len(self._pairs) > self.max_pairs:
                self._pairs.popitem(last=False)
        return token

    def take(self, token: object, rater: str) -> dict:
        """The pair behind `token`, shown to `rater`; it can be picked once."""
        with self._lock:
            found = self._pairs.get(token) if isinstance(token, str) else None
            if not isinstance(token, str) or found is None or found[0] != str(rater):
                raise StudioError("unknown pair: pick a pair /ab_pair gave you, once (old ones are forgotten)")
            del self._pairs[token]
        return found[1]


def record_api_pick(studio: Studio, pending: PendingPairs, token: object, choice: object, rater: str) -> dict:
    """One pick of an API pair: "A", "B" or "same" (either case); the tally stays hidden, as on the page."""
    said = choice.strip().lower() if isinstance(choice, str) else None
    named = next((word for word in CHOICES if word.lower() == said), None)
    if named is None:
        raise StudioError('choice must be "A", "B" or "same"')
    pair = pending.take(token, rater)
    chosen = {"left": pair["left_id"], "right": pair["right_id"], "tie": None}[CHOICES[named]]
    studio.ab_pick(pair["left_id"], pair["right_id"], chosen, rater)
    return {"pair": token, "choice": named, "recorded": True}
