"""Breeding, under the explorer: children of the image being explored (its latent plus small noise,
as Picbreeder's mutations) and a cross with one of your own samples (a latent mix, as Artbreeder's genes).
Children are cards (rated where they are), so each is recorded as a Sample; a cross opens in the explorer.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from aigc.service.studio import Studio, StudioError

from .cards import card_grid, cards, rendered, wire_explore, wire_rating
from .common import PageContext, on_page, random_seed, rater_of, score_mark

N_CHILDREN = 8


def partner_choices(studio: Studio, rater: str, name: str | None) -> list[tuple[str, int]]:
    """This person's samples of this model, liked first, newest first within a rating."""
    names = {m.version_id: m.name for m in studio.models()}
    items = [a for a in studio.history(rater, 200) if names.get(a.version_id) == name]
    items.sort(key=lambda a: -(a.score or 0))  # stable: keeps newest first among equals
    return [
        (f"#{a.sample_id} {score_mark(a.score)} · {a.source}, seed {a.seed}".replace("  ", " "), a.sample_id)
        for a in items[:50]
    ]


def build(ctx: PageContext, explorer) -> tuple[gr.Dropdown, Callable]:
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
        with gr.Row():
            partner = gr.Dropdown(
                label="Cross this image with one of your samples",
                choices=[],
                scale=3,
                info="Your samples of this model, liked first",
                elem_id="ex-partner",
            )
            cross = gr.Button("✖ Cross", scale=1, elem_id="ex-cross")

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
        return explorer.open(name, child, note=f"a cross with #{other}")

    cross.click(cross_with, [partner, *explorer.inputs()], explorer.outputs(), api_visibility="private")

    def refresh(name, request: gr.Request):
        try:
            return gr.Dropdown(choices=partner_choices(studio, rater_of(request), name))
        except Exception:  # noqa: BLE001 - a stale list is better than an error toast on a tab switch
            return gr.skip()

    partner.focus(refresh, explorer.model, partner, api_visibility="private", show_progress="hidden")
    return partner, refresh
