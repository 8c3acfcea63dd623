"""Breeding, under the explorer: children of the image being explored (its latent plus small noise,
as Picbreeder's mutations) and a cross with one of your own samples (a latent mix, as Artbreeder's genes).
Children are cards (rated where they are), so each is recorded as a Sample; a cross opens in the explorer.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from aigc.service.studio import StudioError

from .cards import card_grid, cards, rendered, wire_explore, wire_rating
from .common import PageContext, on_page, random_seed, rater_of
from .picker import my_samples, picker, refreshed, wire_choice

N_CHILDREN = 8


def build(ctx: PageContext, explorer) -> Callable:
    studio = ctx.studio
    with gr.Accordion("🧬 Breed: children and crosses", open=True, elem_id="ex-breed"):
        with gr.Row():
            strength = gr.Slider(
                0.05,
                2.0,
                value=0.5,
                step=0.05,
                label="Mutation strength",
                scale=3,
                info="How far children stray from the image above",
                elem_id="ex-strength",
            )
            make_children = gr.Button(f"🧬 {N_CHILDREN} children of this image", scale=1, elem_id="ex-children-go")
        gr.Markdown("**Children**: rate them here, or 🧭 to explore one")
        gallery = card_grid("ex-children", prefix="child-", empty="", size=96)
        with gr.Row(equal_height=True):
            partners = picker("ex-partner", "Cross this image with one of your samples (liked first)")
            cross = gr.Button("✖ Cross", scale=0, min_width=120, elem_id="ex-cross")
        partner = gr.State(None)  # the chosen sample id
        wire_choice(partners, partner)

    @on_page
    def children(request: gr.Request, amount, current, *values):
        name, z = explorer.current(current, values)
        latents = studio.children(name, z, n=N_CHILDREN, strength=float(amount), seed=random_seed())
        images, ids = studio.show(name, latents, "explore", rater=rater_of(request))
        return rendered(cards(images, ids, captions=[f"#{sid}" for sid in ids]))

    make_children.click(children, [strength, *explorer.inputs()], gallery, api_visibility="private")
    wire_rating(studio, gallery)
    wire_explore(studio, gallery, explorer, ctx.tabs, lambda sid: f"child #{sid}")

    @on_page
    def cross_with(request: gr.Request, other, current, *values):  # request first: Gradio fills positional hints
        name, z = explorer.current(current, values)
        if not other:
            raise StudioError("Pick one of your samples to cross with (rate or generate some first).")
        other_name, other_z = studio.sample_info(other, rater_of(request))
        if other_z.shape != z.shape:
            raise StudioError(f"Sample #{other} is from {other_name}, whose latent space differs from {name}'s.")
        child = studio.cross(name, z, other_z, seed=random_seed())
        return explorer.open(name, child, note=f"a cross with #{other}", viewer=rater_of(request))

    cross.click(cross_with, [partner, *explorer.inputs()], explorer.outputs(), api_visibility="private")

    def refresh(name, chosen, request: gr.Request):
        try:
            return refreshed(my_samples(studio, rater_of(request), name), chosen)
        except Exception:  # noqa: BLE001 - a stale list is better than an error toast on a tab switch
            return gr.skip(), gr.skip()

    def refresh_on(tab_opened) -> None:
        """Refresh the partners' thumbnails when the tab opens or the model switches: one listener, "always_last",
        so the model picked last wins (two listeners would run side by side and the slower one would win)."""
        gr.on(
            [tab_opened, explorer.model.change],
            refresh,
            [explorer.model, partner],
            [partners, partner],
            api_visibility="private",
            show_progress="hidden",
            trigger_mode="always_last",
        )

    return refresh_on
