"""History: this person's recent samples and ratings, newest first; any of them reopens in the explorer."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from aigc.service.studio import Studio

from .common import PageContext, ago, on_page, rater_of, score_mark, upscale

EVERYTHING, RATED = "Everything", "Rated only"
COLUMNS = ["sample", "model", "made by", "seed", "your rating", "when"]


def thumbnails(studio: Studio, sample_ids: list[int], viewer: str | None = None) -> list[tuple[str, np.ndarray]]:
    """(model, image) per sample: one database read for all, one forward pass per model (not one per item)."""
    infos = studio.samples_info(sample_ids, viewer)
    out: list = [None] * len(infos)
    by_model: dict[str, list[int]] = {}
    for i, (name, _) in enumerate(infos):
        by_model.setdefault(name, []).append(i)
    for name, where in by_model.items():
        images = studio.decode_many(name, np.stack([infos[i][1] for i in where]))
        for i, image in zip(where, images):
            out[i] = (name, image)
    return out


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("🕘 History", id="history") as tab:
        gr.Markdown(
            "Your recent samples and ratings, newest first (by this login, or this browser session). "
            "Click an image to reopen it in the explorer."
        )
        with gr.Row(equal_height=True):
            which = gr.Radio([EVERYTHING, RATED], value=EVERYTHING, label="Show", scale=2, elem_id="hist-which")
            limit = gr.Slider(8, 96, value=32, step=8, label="How many", scale=2, elem_id="hist-limit")
            refresh = gr.Button("↻ Refresh", scale=1, elem_id="hist-refresh")
        gallery = gr.Gallery(
            label="Recent",
            show_label=False,
            columns=8,
            height="auto",
            allow_preview=False,
            format="png",
            buttons=[],
            elem_classes=["pixelated"],
            elem_id="hist-gallery",
        )
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="hist-table", max_height=320)
        shown = gr.State([])  # sample ids, in gallery order

    @on_page
    def load(what, count, request: gr.Request):
        names = {m.version_id: m.name for m in studio.models()}
        items = studio.history(rater_of(request), int(count) * (3 if what == RATED else 1))
        if what == RATED:
            items = [a for a in items if a.score is not None]
        items = items[: int(count)]
        images = thumbnails(studio, [a.sample_id for a in items], rater_of(request))
        gallery_items, rows = [], []
        for a, (name, image) in zip(items, images):
            mark = score_mark(a.score)
            gallery_items.append((upscale(image), f"#{a.sample_id} {mark}".strip()))
            rows.append(
                [
                    a.sample_id,
                    names.get(a.version_id, name),
                    a.source,
                    a.seed,
                    mark or "—",
                    ago(a.rated_at or a.created_at),
                ]
            )
        if not items:
            gr.Info("Nothing here yet: generate some images and rate them.", duration=3)
        return (
            gr.Gallery(gallery_items, selected_index=None),
            pd.DataFrame(rows, columns=COLUMNS),
            [a.sample_id for a in items],
        )

    for event in (tab.select, refresh.click, which.change, limit.release):
        event(load, [which, limit], [gallery, table, shown], api_visibility="private")

    def wire_explore(explorer) -> None:
        @on_page
        def reopen(ids, evt: gr.SelectData, request: gr.Request):
            if not ids or evt.index is None or evt.index >= len(ids):
                return [gr.skip()] * (len(explorer.outputs()) + 1)
            name, z = studio.sample_info(ids[evt.index], rater_of(request))
            return explorer.open(
                name, z, sample_id=ids[evt.index], note=f"sample #{ids[evt.index]} from your history"
            ) + [gr.Tabs(selected="explore")]

        gallery.select(reopen, shown, explorer.outputs() + [ctx.tabs], api_visibility="private")

    ctx.with_explorer(wire_explore)
