"""Generate & rate: a seeded batch as image cards, each liked or disliked in one click.

Every image is a `Sample` in the database before it reaches the page (Studio.sample); every click
is a rating stored at once. `?model=NAME&seed=N` opens the page on that batch (the permalink).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit, urlunsplit

import gradio as gr

from aigc.data.images import make_grid, to_pil

from .common import (
    CARD_SCALE,
    DISLIKE,
    LIKE,
    MAX_SEED,
    PageContext,
    model_choices,
    on_page,
    random_seed,
    rater_of,
    save_file,
)
from .web import CARDS_CSS, CARDS_JS, CARDS_TEMPLATE, data_uri

MAX_CARDS = 16
DEFAULT_N = 8


def permalink(request: gr.Request | None, name: str, seed: int, n: int, truncation: float) -> str:
    """The page's own address (as the browser sees it) with the batch in its query."""
    query = {"model": name, "seed": int(seed)}
    if int(n) != DEFAULT_N:
        query["n"] = int(n)
    if truncation:
        query["truncation"] = round(float(truncation), 2)
    page = ""
    if request is not None:
        headers = {k.lower(): v for k, v in dict(request.headers).items()}
        page = headers.get("referer") or ""
    if page:
        parts = urlsplit(page)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return "?" + urlencode(query)


def build(ctx: PageContext) -> None:
    studio = ctx.studio
    with gr.Tab("🎨 Generate & rate", id="generate"):
        gr.Markdown(
            "Pick a model and a seed, then rate what you see: 👍 / 👎 under each image "
            "(click the other one to change your mind). 🧭 opens an image in the explorer."
        )
        with gr.Row(equal_height=True):
            model = ctx.model_picker(scale=3, refresh_on_load=False, elem_id="gen-model")
            n = gr.Slider(1, MAX_CARDS, value=DEFAULT_N, step=1, label="Images", scale=2, elem_id="gen-n")
            seed = gr.Number(
                value=0,
                precision=0,
                minimum=0,
                maximum=MAX_SEED,
                label="Seed",
                scale=1,
                min_width=110,
                elem_id="gen-seed",
            )
            truncation = gr.Slider(
                0,
                3,
                value=0,
                step=0.1,
                label="Truncation (GAN)",
                scale=2,
                elem_id="gen-truncation",
                info="0 = off; lower = more typical, less varied",
            )
        with gr.Row():
            generate = gr.Button("✨ Generate", variant="primary", scale=3, elem_id="gen-go")
            dice = gr.Button("🎲 New seed", scale=1, elem_id="gen-dice")
        status = gr.Markdown(elem_id="gen-status")
        grid = gr.HTML(
            [],
            html_template=CARDS_TEMPLATE,
            css_template=CARDS_CSS,
            js_on_load=CARDS_JS,
            apply_default_css=False,
            scores=[],
            empty="Generating…",
            elem_id="gen-cards",
        )
        with gr.Row():
            download = gr.DownloadButton(
                "⬇ Download the batch (PNG grid)", interactive=False, scale=1, size="md", elem_id="gen-download"
            )
            link = gr.Textbox(
                label="Permalink: this model and seed, same images",
                interactive=False,
                buttons=["copy"],
                scale=3,
                elem_id="gen-link",
            )
        batch_state = gr.State({})  # {"model": name, "ids": [sample ids], "scores": [...]}: never images or models

    @on_page
    def run(name, count, seed_value, trunc, request: gr.Request):
        if not name:
            raise gr.Error("No model yet: train one (aigc train ...) or put a checkpoint in the models folder.")
        count, seed_value = int(count or DEFAULT_N), int(seed_value or 0)
        batch = studio.sample(name, count, seed_value, session=rater_of(request), truncation=float(trunc or 0) or None)
        cards = [{"src": data_uri(img, CARD_SCALE), "id": sid} for img, sid in zip(batch.images, batch.sample_ids)]
        buffer = io.BytesIO()
        to_pil(make_grid(batch.images, nrow=min(count, 8)), CARD_SCALE).save(buffer, format="PNG")
        grid_png = save_file(ctx, buffer.getvalue(), f"{name}-seed{seed_value}-n{count}.png")
        kind = "truncation " + f"{float(trunc):g}" if trunc and studio.kind(name) == "gan" else ""
        first, last = batch.sample_ids[0], batch.sample_ids[-1]
        made_by = f"seed {seed_value}{', ' + kind if kind else ''}"
        text = f"**{count} images** from `{name}`, {made_by} · samples #{first}–#{last}"
        scores = [0] * count
        return (
            {"model": name, "ids": batch.sample_ids, "scores": scores},
            text,
            gr.HTML(cards, scores=scores),
            gr.DownloadButton(value=grid_png, interactive=True),
            permalink(request, name, seed_value, count, trunc or 0),
        )

    outputs = [batch_state, status, grid, download, link]
    inputs = [model, n, seed, truncation]
    generate.click(run, inputs, outputs, api_visibility="private", concurrency_limit=2)
    dice.click(random_seed, None, seed, api_visibility="private", queue=False).then(
        run, inputs, outputs, api_visibility="private", concurrency_limit=2
    )

    def truncation_for(name):
        kind = next((m.kind for m in studio.models() if m.name == name), None)
        return gr.Slider(visible=kind == "gan")

    model.change(truncation_for, model, truncation, api_visibility="private", queue=False)

    @on_page
    def rate(state, evt: gr.EventData, request: gr.Request):
        data = evt._data or {}
        ids, i, score = (state or {}).get("ids", []), int(data.get("index", -1)), float(data.get("score", 0))
        if not 0 <= i < len(ids) or score not in (LIKE, DISLIKE):
            raise gr.Error("Generate a batch first.")
        studio.rate(ids[i], score, rater_of(request))
        scores = list(state["scores"])
        scores[i] = score
        gr.Info(f"{'👍 Liked' if score > 0 else '👎 Disliked'} #{i + 1} (sample {ids[i]})", duration=2)
        return {**state, "scores": scores}, gr.HTML(scores=scores)

    grid.click(
        rate, batch_state, [batch_state, grid], api_visibility="private", show_progress="hidden", concurrency_limit=4
    )

    @on_page
    def on_load(request: gr.Request):
        """Permalinks: ?model=NAME&seed=N[&n=K][&truncation=T]; without them, a fresh seed."""
        params = dict(request.query_params) if request is not None else {}
        choices = model_choices(studio)
        names = [value for _, value in choices]
        name = params.get("model") if params.get("model") in names else (names[0] if names else None)
        if params.get("model") and params["model"] not in names:
            gr.Warning(f"This link asks for model {params['model']!r}, which this studio does not have.")
        try:
            seed_value = int(params["seed"]) if "seed" in params else random_seed()
            count = min(MAX_CARDS, max(1, int(params.get("n", DEFAULT_N))))
            trunc = min(3.0, max(0.0, float(params.get("truncation", 0))))
        except ValueError:
            gr.Warning("This link has a malformed seed, n or truncation; using defaults.")
            seed_value, count, trunc = random_seed(), DEFAULT_N, 0.0
        return gr.Dropdown(choices=choices, value=name), seed_value, count, trunc

    ctx.on_load(on_load, [model, seed, n, truncation], then=(run, inputs, outputs))

    def wire_explore(explorer) -> None:
        @on_page
        def open_card(state, evt: gr.EventData, request: gr.Request):
            ids, i = (state or {}).get("ids", []), int((evt._data or {}).get("index", -1))
            if not 0 <= i < len(ids):
                raise gr.Error("Generate a batch first.")
            name, z = studio.sample_info(ids[i], rater_of(request))
            return explorer.open(name, z, sample_id=ids[i], note=f"sample #{ids[i]} (card #{i + 1})") + [
                gr.Tabs(selected="explore")
            ]

        grid.select(open_card, batch_state, explorer.outputs() + [ctx.tabs], api_visibility="private")

    ctx.with_explorer(wire_explore)
