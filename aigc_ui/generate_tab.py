"""Generate & rate: a seeded batch as image cards, each liked or disliked in one click.

Every image is a `Sample` in the database before it reaches the page (Studio.sample); every click
is a rating stored at once. `?model=NAME&seed=N` opens the page on that batch (the permalink).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode, urlsplit, urlunsplit

import gradio as gr

from aigc.data.images import make_grid, to_pil
from aigc.service.studio import POOL_PER_PICK, SEED_RULE, StudioError

from .cards import card_grid, cards, rendered, wire_explore, wire_rating
from .common import (
    CARD_SCALE,
    PageContext,
    model_choices,
    on_page,
    random_seed,
    rater_of,
    readiness_line,
    save_file,
)
from .gestures import once_per_gesture

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
            # no precision/min/max: Gradio would round 3.7 or refuse -5 with a raw toast and red badges;
            # the studio's one seed rule (aigc.service.limits) refuses them with one line instead
            seed = gr.Number(value=0, label="Seed", info=SEED_RULE, scale=1, min_width=110, elem_id="gen-seed")
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
            to_rate = gr.Checkbox(
                value=False,
                label="🎯 Images to rate next",
                info=f"from {POOL_PER_PICK}× as many samples: those your reward model is least sure of, "
                "and kinds not rated yet",
                scale=2,
                elem_id="gen-to-rate",
            )
        status = gr.Markdown(elem_id="gen-status")
        grid = card_grid("gen-cards", empty="No images yet: ✨ Generate makes a batch.")
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
        tally = gr.Markdown(elem_id="gen-tally")

    @on_page
    def run(name, count, seed_value, trunc, choose, request: gr.Request):
        if not name:
            raise gr.Error("No model yet: train one (aigc train ...) or put a checkpoint in the models folder.")
        count, seed_value = int(count or DEFAULT_N), studio.limits.seed(seed_value)
        rater = rater_of(request)
        if choose:
            batch = studio.sample_to_rate(name, count, seed_value, rater=rater)
        else:
            batch = studio.sample(name, count, seed_value, rater=rater, truncation=float(trunc or 0) or None)
        # a picture this person rated before keeps that rating (and its sample, so rating again updates it)
        earlier = studio.rated_by(name, batch.latents, rater)
        ids = [e[0] if e else sid for e, sid in zip(earlier, batch.sample_ids)]
        scores = [e[1] if e else None for e in earlier]
        buffer = io.BytesIO()
        to_pil(make_grid(batch.images, nrow=min(count, 8)), CARD_SCALE).save(buffer, format="PNG")
        grid_png = save_file(ctx, buffer.getvalue(), f"{name}-seed{seed_value}-n{count}.png")
        kind = "truncation " + f"{float(trunc):g}" if trunc and studio.kind(name) == "gan" else ""
        first, last = batch.sample_ids[0], batch.sample_ids[-1]
        made_by = f"seed {seed_value}{', ' + kind if kind else ''}"
        if choose:
            made_by = f"chosen to rate next from seed {seed_value}'s pool (they depend on your ratings: no permalink)"
        shown = f"samples #{first}–#{last}" if count > 1 else f"sample #{first}"
        text = f"**{count} image{'s' if count > 1 else ''}** from `{name}`, {made_by} · {shown}"
        return (
            text,
            rendered(cards(batch.images, ids, scores, [f"#{i}" for i in ids])),  # sample ids, as History shows
            gr.DownloadButton(value=grid_png, interactive=True),
            "" if choose else permalink(request, name, seed_value, count, trunc or 0),
            readiness_line(studio, name, rater),
        )

    outputs = [status, grid, download, link, tally]
    inputs = [model, n, seed, truncation, to_rate]
    # always_last: a second Generate while one runs is not dropped (the seed box would then name a seed
    # whose images never came); it runs after, and its images, ids and status arrive together.
    generate.click(run, inputs, outputs, api_visibility="private", concurrency_limit=2, trigger_mode="always_last")
    dice.click(random_seed, None, seed, api_visibility="private", queue=False).then(
        run, inputs, outputs, api_visibility="private", concurrency_limit=2, trigger_mode="always_last"
    )

    def truncation_for(name):
        return gr.Slider(visible=studio.kind(name) == "gan") if name else gr.skip()

    model.change(truncation_for, model, truncation, api_visibility="private", queue=False)
    # a model picked by the person shows its images at once (the grid kept the last model's under its name), once:
    # the dropdown's echo of the same pick is dropped (aigc_ui/gestures.py)
    run_picked = once_per_gesture(run, [gr.skip()] * len(outputs))
    model.input(run_picked, inputs, outputs, api_visibility="private", concurrency_limit=2, trigger_mode="always_last")

    def tally_after(sample_id: int, request: gr.Request) -> list:
        return [readiness_line(studio, studio.sample_info(sample_id, rater_of(request))[0], rater_of(request))]

    wire_rating(studio, grid, [tally], tally_after)

    @on_page
    def on_load(request: gr.Request):
        """Permalinks: ?model=NAME&seed=N[&n=K][&truncation=T]; without them, a fresh seed."""
        params = dict(request.query_params) if request is not None else {}
        choices = model_choices(studio, None, studio.models(rater_of(request)))  # their private versions too
        names = [value for _, value in choices]
        name = params.get("model") if params.get("model") in names else (names[0] if names else None)
        if params.get("model") and params["model"] not in names:
            gr.Warning(f"This link asks for model {params['model']!r}, which this studio does not have.")
        seed_value = random_seed()
        if "seed" in params:
            try:
                seed_value = studio.limits.seed(params["seed"])
            except StudioError as exc:
                gr.Warning(f"This link's {exc}; showing seed {seed_value} instead.")
        try:
            count = min(MAX_CARDS, max(1, int(params.get("n", DEFAULT_N))))
            trunc = min(3.0, max(0.0, float(params.get("truncation", 0))))
        except ValueError:
            gr.Warning("This link has a malformed n or truncation; using the defaults.")
            count, trunc = DEFAULT_N, 0.0
        return gr.Dropdown(choices=choices, value=name), seed_value, count, trunc

    ctx.on_load(on_load, [model, seed, n, truncation], then=(run, inputs, outputs))

    ctx.with_explorer(
        lambda explorer: wire_explore(studio, grid, explorer, ctx.tabs, lambda sid: f"sample #{sid} from Generate")
    )
