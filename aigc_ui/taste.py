""" "My taste": one more slider in the explorer, along the direction that separates the latents you
liked from those you disliked (a linear classifier's normal, as InterFaceGAN does with attributes).
No training: it is fitted from the ratings in the database each time the slider is picked up.

While the slider moves, the image previews z + t·d; on release the explorer moves there for real
(the other sliders follow), and the taste slider returns to 0, ready for another step.
"""

from __future__ import annotations

import gradio as gr
import numpy as np

from .common import PageContext, on_page, rater_of

NO_TASTE = "No taste yet: rate at least 4 images of this model (some 👍, some 👎), then try again."


def build(ctx: PageContext, explorer) -> None:
    studio = ctx.studio
    with gr.Row(elem_id="ex-taste-row"):
        taste = gr.Slider(
            -3,
            3,
            value=0,
            step=0.1,
            label="✨ My taste",
            scale=3,
            elem_id="ex-taste",
            info="Towards what you liked (+) or away from it (−), learned from your ratings of this model",
        )
        whose = gr.Radio(["mine", "everyone's"], value="mine", label="Ratings", scale=1, elem_id="ex-taste-whose")

    def direction(name: str, who: str, request: gr.Request) -> np.ndarray | None:
        return studio.taste(name, rater_of(request) if who == "mine" else None)

    # Without a taste yet the preview shows nothing new and says nothing; the release says it once and
    # puts the slider back (a warning per move stacked eight toasts per drag).
    @on_page
    def preview(request: gr.Request, current, who, amount, *values):
        name, z = explorer.current(current, values)
        d = direction(name, who, request)
        return gr.skip() if d is None else explorer.view_update(name, z + float(amount) * d, rater_of(request))

    @on_page
    def commit(request: gr.Request, current, who, amount, *values):
        name, z = explorer.current(current, values)
        d = direction(name, who, request) if float(amount) else None
        if d is None:
            if float(amount):
                gr.Warning(NO_TASTE)
            return [gr.skip()] * len(explorer.outputs()) + [0]
        moved_to = z + float(amount) * d
        note = f"{'+' if amount > 0 else '−'}{abs(float(amount)):.1f} along your taste"
        return [*explorer.open(name, moved_to, note=note, viewer=rater_of(request)), 0]

    inputs = [explorer.state, whose, taste, *explorer.sliders]
    taste.input(
        preview,
        inputs,
        explorer.view,
        trigger_mode="always_last",
        concurrency_limit=1,
        api_visibility="private",
        show_progress="hidden",
    )
    taste.release(commit, inputs, [*explorer.outputs(), taste], api_visibility="private", show_progress="hidden")
