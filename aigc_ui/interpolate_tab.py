"""Interpolate: a slerp path between two seeds or two of your samples, as a strip and an animated GIF."""

from __future__ import annotations

import gradio as gr
import numpy as np

from aigc.data.images import gif_bytes
from aigc.service.studio import SEED_RULE, StudioError

from .cards import card_grid, cards, rendered, wire_explore, wire_rating
from .common import GIF_SCALE, PageContext, on_page, rater_of, save_file
from .picker import my_samples, picker, refreshed, wire_choice

SEEDS, SAMPLES = "Two seeds", "Two of my samples"


def interpolation(studio, name: str, z_a: np.ndarray, z_b: np.ndarray, steps: int, rater: str):
    """Decode the path once and record its frames as Samples (they are shown): (images, latents, sample ids)."""
    latents = studio.interpolation_latents(name, z_a, z_b, steps)
    images, ids = studio.show(name, latents, "interpolate", rater=rater)
    return images, latents, ids


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("🔀 Interpolate", id="interpolate") as tab:
        gr.Markdown(
            "A smooth walk between two points of the latent space (spherical interpolation, which keeps "
            "every frame as typical as its ends). Click a frame to explore it; download the walk as a GIF."
        )
        with gr.Row(equal_height=True):
            model = ctx.model_picker(scale=2, elem_id="ip-model")
            mode = gr.Radio([SEEDS, SAMPLES], value=SEEDS, label="Between", scale=2, elem_id="ip-mode")
            steps = gr.Slider(3, 24, value=10, step=1, label="Frames", scale=2, elem_id="ip-steps")
        with gr.Row(equal_height=True) as seed_row:
            # no precision/minimum: Gradio would round 3.7 or refuse -5 with a raw toast; the studio's one
            # seed rule refuses them with one line
            seed_a = gr.Number(1, label="Seed A", info=SEED_RULE, elem_id="ip-seed-a")
            seed_b = gr.Number(2, label="Seed B", elem_id="ip-seed-b")
        with gr.Row(equal_height=True, visible=False) as sample_row:
            pick_a = picker("ip-sample-a", "Sample A: one of yours (liked first)")
            pick_b = picker("ip-sample-b", "Sample B")
        sample_a, sample_b = gr.State(None), gr.State(None)  # the chosen sample ids (server-side)
        go = gr.Button("🔀 Interpolate", variant="primary", elem_id="ip-go")
        gr.Markdown("**The path, A → B**: rate a frame where it is, or 🧭 to explore it")
        strip = card_grid("ip-strip", prefix="frame-", size=96)
        with gr.Row():
            animation = gr.Image(
                label="Animated",
                type="filepath",
                interactive=False,
                height=280,
                buttons=[],
                elem_classes=["pixelated"],
                elem_id="ip-gif",
                scale=1,
            )
            with gr.Column(scale=2):
                note = gr.Markdown(elem_id="ip-note")
                download = gr.DownloadButton("⬇ Download the GIF", interactive=False, size="md", elem_id="ip-download")

    def refresh(name, a, b, request: gr.Request):
        try:
            items = my_samples(studio, rater_of(request), name)
        except Exception:  # noqa: BLE001 - keep the old list rather than toast on a tab switch
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        (grid_a, a), (grid_b, b) = refreshed(items, a), refreshed(items, b)
        return grid_a, grid_b, a, b

    gr.on(  # one listener, "always_last": the model picked last wins (see finetune_tab)
        [tab.select, model.change],
        refresh,
        [model, sample_a, sample_b],
        [pick_a, pick_b, sample_a, sample_b],
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
    )
    wire_choice(pick_a, sample_a)
    wire_choice(pick_b, sample_b)

    def switch(which):
        return gr.Row(visible=which == SEEDS), gr.Row(visible=which == SAMPLES)

    mode.change(switch, mode, [seed_row, sample_row], api_visibility="private", queue=False)

    @on_page
    def run(name, which, a_seed, b_seed, a_sample, b_sample, frames, request: gr.Request):
        if which == SAMPLES:
            if not a_sample or not b_sample:
                raise StudioError("Pick two of your samples: click one picture under A and one under B.")
            name, z_a = studio.sample_info(int(a_sample), rater_of(request))
            b_name, z_b = studio.sample_info(int(b_sample), rater_of(request))
            if z_a.shape != z_b.shape:
                raise StudioError(f"#{a_sample} ({name}) and #{b_sample} ({b_name}) live in different latent spaces.")
            ends = f"samples #{a_sample} → #{b_sample}"
        else:
            if not name:
                raise StudioError("Pick a model first.")
            a_seed, b_seed = studio.limits.seed(a_seed), studio.limits.seed(b_seed)
            z_a, z_b = studio.latent_of(name, a_seed), studio.latent_of(name, b_seed)
            ends = f"seeds {a_seed} → {b_seed}"
        images, latents, ids = interpolation(studio, name, z_a, z_b, int(frames), rater_of(request))
        gif = save_file(ctx, gif_bytes(images, upscale=GIF_SCALE, duration_ms=90), f"{name}-interpolation.gif")
        text = f"`{name}`, {ends}, {len(ids)} frames · samples #{ids[0]}–#{ids[-1]}"
        if np.allclose(z_a, z_b):  # every frame the same picture: say why rather than leave it to puzzle over
            text += " · A and B are the same point, so every frame is the same picture: pick two different ends"
        return (
            rendered(cards(images, ids, captions=[f"{i + 1} · #{sid}" for i, sid in enumerate(ids)])),
            gif,
            text,
            gr.DownloadButton(value=gif, interactive=True),
        )

    go.click(
        run,
        [model, mode, seed_a, seed_b, sample_a, sample_b, steps],
        [strip, animation, note, download],
        api_visibility="private",
        concurrency_limit=2,
    )

    wire_rating(studio, strip)
    ctx.with_explorer(
        lambda explorer: wire_explore(studio, strip, explorer, ctx.tabs, lambda sid: f"interpolation frame #{sid}")
    )
