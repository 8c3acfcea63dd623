"""The "who is rating" line at the top of the page, and the display name a person may set.

The identity itself is `common.rater_of` (the login with --auth, else the browser's anonymous id from
aigc_ui.identity). The display name is only for the person's own eyes; it is kept in the browser
(gr.BrowserState, with a fixed secret: it is not a secret, and a per-process one would be lost on a
restart) and never replaces the identity, so two people cannot merge their ratings by choosing a name.
"""

from __future__ import annotations

import gradio as gr

from .common import PageContext, plain, rater_of

MAX_NAME = 40


def who_text(name: str | None, request: gr.Request | None) -> str:
    rater = rater_of(request)
    if request is not None and getattr(request, "username", None):
        return f"Rating as **{plain(rater)}** (your login)."
    shown = plain((name or "").strip()[:MAX_NAME]) or "you"
    return (
        f"Rating as **{shown}**: this browser remembers you (reloads, new tabs and restarts of the studio), "
        f"anonymous id `{rater[:13]}…`. Use `--auth` for accounts that follow you across browsers."
    )


def build(ctx: PageContext) -> None:
    with gr.Row(equal_height=True, elem_id="who-row"):
        line = gr.Markdown(elem_id="who")
        name = gr.Textbox(
            label="Your display name (optional)",
            max_length=MAX_NAME,
            max_lines=1,
            scale=0,
            min_width=220,
            elem_id="who-name",
        )
    stored = gr.BrowserState("", storage_key="aigc-display-name", secret="aigc-display-name")

    def load(saved, typed, request: gr.Request):
        # A name typed before the page finished loading wins over the stored one (it is about to be saved).
        name_now = (typed or "").strip()[:MAX_NAME] or saved or ""
        return name_now, who_text(name_now, request)

    def save(value, request: gr.Request):
        value = (value or "").strip()[:MAX_NAME]
        return value, who_text(value, request)

    ctx.on_load(load, [name, line], inputs=[stored, name])
    for event in (name.submit, name.blur):
        event(save, name, [stored, line], api_visibility="private", show_progress="hidden")
