"""History: this person's recent samples and ratings, newest first; any of them reopens in the explorer."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from aigc.service.studio import Studio

from .cards import card_grid, cards, rendered, wire_explore, wire_rating
from .common import PageContext, ago, on_page, rater_of, score_mark

EVERYTHING, RATED = "Everything", "Rated only"
COLUMNS = ["sample", "model", "made by", "seed", "your rating", "when"]


def thumbnails(studio: Studio, sample_ids: list[int], viewer: str | None = None) -> list[tuple[str, np.ndarray]]:
    """(model, image) per sample: one database read for all, one forward pass per model (not one per item);
    a sample of a retired version (its shipped weights were replaced) is a grey card labelled so."""
    return studio.sample_images(sample_ids, viewer)


NO_RATINGS = "⬇ Your ratings (CSV): none yet"


def ratings_download(ctx: PageContext, rater: str) -> gr.DownloadButton:
    """The button for this person's ratings (not only the ones listed; the most recent `Limits.max_export_ratings`)
    as one CSV file: sample, model, seed and index (enough to draw the picture again), score, when, the latent."""
    made = ctx.studio.export_ratings(rater, ctx.files / "ratings")
    if made is None:
        return gr.DownloadButton(NO_RATINGS, value=None, interactive=False)
    path, n = made
    return gr.DownloadButton(f"⬇ Your {n} rating{'s' if n != 1 else ''} (CSV)", value=str(path), interactive=True)


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("🕘 History", id="history") as tab:
        gr.Markdown(
            "Your recent samples and ratings, newest first (by this login, or this browser session). "
            "Rate a card again where it is, or 🧭 to reopen it in the explorer."
        )
        with gr.Row(equal_height=True):
            which = gr.Radio([EVERYTHING, RATED], value=EVERYTHING, label="Show", scale=2, elem_id="hist-which")
            limit = gr.Slider(8, 96, value=32, step=8, label="How many", scale=2, elem_id="hist-limit")
            refresh = gr.Button("↻ Refresh", scale=1, elem_id="hist-refresh")
            download = gr.DownloadButton(NO_RATINGS, interactive=False, scale=1, elem_id="hist-download")
        gallery = card_grid("hist-gallery", prefix="hist-", size=96, empty="Nothing here yet.")
        table = gr.Dataframe(headers=COLUMNS, interactive=False, elem_id="hist-table", max_height=320)

    @on_page
    def load(what, count, request: gr.Request):
        names = {m.version_id: m.name for m in studio.models()}
        # rated only: asked of the database (filtering the latest samples lost ratings behind newer unrated ones)
        items = studio.history(rater_of(request), int(count), rated_only=what == RATED)
        images = thumbnails(studio, [a.sample_id for a in items], rater_of(request))
        rows = []
        for a, (name, _) in zip(items, images):
            mark = score_mark(a.score)
            rows.append(
                [
                    a.sample_id,
                    names.get(a.version_id, name),
                    a.source,
                    "—" if a.seed is None else a.seed,  # a pick or a move: its seed would draw another picture
                    mark or "—",
                    ago(a.rated_at or a.created_at),
                ]
            )
        if not items:
            gr.Info("Nothing here yet: generate some images and rate them.", duration=3)
        ids = [a.sample_id for a in items]
        grid = cards([image for _, image in images], ids, [a.score for a in items], [f"#{sid}" for sid in ids])
        return rendered(grid), pd.DataFrame(rows, columns=COLUMNS), ratings_download(ctx, rater_of(request))

    # One listener, "always_last": the latest filter wins, never an earlier answer that finished later.
    gr.on(
        [tab.select, refresh.click, which.change, limit.release],
        load,
        [which, limit],
        [gallery, table, download],
        api_visibility="private",
        trigger_mode="always_last",
    )

    wire_rating(studio, gallery)
    ctx.with_explorer(
        lambda explorer: wire_explore(studio, gallery, explorer, ctx.tabs, lambda s: f"sample #{s} from your history")
    )
