"""Every open page learns of new (and withdrawn) versions without a reload: a timer per page asks the studio
for the versions this person may see and refreshes every model picker when they change."""

from __future__ import annotations

import gradio as gr

from .common import PageContext, model_choices, rater_of

VERSION_POLL_S = 5.0


def build(ctx: PageContext) -> None:
    """Every open page lists a new version (a fine-tune finished anywhere) within VERSION_POLL_S, no reload.
    Each page keeps the names it lists; a tick that finds the same names changes nothing on the page."""
    pickers = ctx.every_picker
    if not pickers:
        return
    studio = ctx.studio
    timer = gr.Timer(VERSION_POLL_S)
    known = gr.State(None)
    explorer = ctx.explorer  # its status says so when the version it shows is taken away
    inputs = [known, explorer.state if explorer else gr.State(None)]
    outputs = [known, *[d for d, _ in pickers]] + ([explorer.status] if explorer else [])

    def check(listed, shown, request: gr.Request):
        try:
            models = studio.models(rater_of(request))
        except Exception:  # noqa: BLE001 - a missed tick is retried at the next one; never a toast
            return [gr.skip()] * len(outputs)
        names = [m.name for m in models]
        if listed is not None and names == listed:
            return [gr.skip()] * len(outputs)
        pickers_now = [gr.Dropdown(choices=model_choices(studio, kind, models)) for _, kind in pickers]
        return [names, *pickers_now] + ([gone_words(shown, names)] if explorer else [])

    timer.tick(check, inputs, outputs, api_visibility="private", show_progress="hidden", queue=False)


def gone_words(state: dict | None, names: list[str]):
    """The explorer's status when the version it shows is no longer listed for this person (an admin took a
    published fine-tune back): the picker went blank and the picture stayed, as if nothing had happened."""
    model = (state or {}).get("model")
    if not model or model in names:
        return gr.skip()
    return f"`{model}` is no longer shown to you (taken back to its owner); pick another model above."
